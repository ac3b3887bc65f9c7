#!/usr/bin/env bash
# Installs the real DICOMweb server the test suite starts on loopback, plus its DICOM tooling:
#   - orthanc            the PACS (binary /usr/sbin/Orthanc)
#   - orthanc-dicomweb   its DICOMweb plugin (/usr/share/orthanc/plugins/libOrthancDicomWeb.so)
#   - dcmtk              dcmodify & co., used by the tests to set PatientID, modality, new UIDs
#   - python3-pydicom    only for its small, real DICOM test files
#                        (/usr/lib/python3/dist-packages/pydicom/data/test_files)
# Debian 12 packages only; needs root (or sudo) on the first run. Idempotent: exits at once when
# everything is already there. The Debian `orthanc` package registers a system service (HTTP 8042,
# DICOM 4242); IDR never uses it (the tests run their own Orthanc on free loopback ports), so this
# script keeps it from starting during the install and stops/disables it afterwards.
set -euo pipefail

PLUGIN_DIR=/usr/share/orthanc/plugins
PYDICOM_FILES=/usr/lib/python3/dist-packages/pydicom/data/test_files

present() {
  command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ] || return 1
  [ -e "$PLUGIN_DIR/libOrthancDicomWeb.so" ] || return 1
  command -v dcmodify >/dev/null 2>&1 || return 1
  [ -e "$PYDICOM_FILES/CT_small.dcm" ] || return 1
}

versions() {
  local v
  for p in orthanc orthanc-dicomweb dcmtk python3-pydicom; do
    v="$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
    echo "install-orthanc: $p $v"
  done
}

if present; then
  versions
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-orthanc: must run as root (or with sudo available)" >&2; exit 1; }
  SUDO="sudo"
fi

PKGS=(orthanc orthanc-dicomweb dcmtk python3-pydicom)

# Keep the Debian service from starting during the install (the standard policy-rc.d mechanism).
# If the machine already has a policy-rc.d (e.g. a Docker image), leave it alone.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
cleanup() {
  if [ "$OWN_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, written by IDR scripts/install-orthanc.sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  OWN_POLICY=1
fi

# apt-get update only when a package has no install candidate yet (fresh machine, empty lists).
need_update=0
for p in "${PKGS[@]}"; do
  cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
done
if [ "$need_update" = 1 ]; then
  echo "install-orthanc: apt-get update" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
fi

echo "install-orthanc: installing ${PKGS[*]}" >&2
start=$(date +%s)
install_pkgs() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PKGS[@]}" >&2; }
if ! install_pkgs; then
  # Stale package lists (404 on a superseded .deb): refresh once and retry.
  echo "install-orthanc: install failed; apt-get update and retry" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  install_pkgs
fi
echo "install-orthanc: apt-get install took $(( $(date +%s) - start )) s" >&2

# Stop and disable the system service; our own instances run the binary directly.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now orthanc >/dev/null 2>&1 || true
else
  if [ -x /etc/init.d/orthanc ]; then $SUDO /etc/init.d/orthanc stop >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then $SUDO update-rc.d orthanc disable >/dev/null 2>&1 || true; fi
fi

if ! present; then
  echo "install-orthanc: install finished but Orthanc, $PLUGIN_DIR/libOrthancDicomWeb.so, dcmodify or $PYDICOM_FILES is missing" >&2
  exit 1
fi
versions

#!/usr/bin/env bash
# Installs the browser the web page's tests drive: Debian 12's `chromium` package (headless,
# driven over the DevTools protocol by playwright-core; /usr/bin/chromium). Debian packages only;
# needs root (or sudo) on the first run. Idempotent: exits at once when Chromium is there.
# IDR_CHROMIUM may name another Chromium/Chrome binary; then nothing is installed.
set -euo pipefail

if [ -n "${IDR_CHROMIUM:-}" ]; then
  [ -x "$IDR_CHROMIUM" ] || { echo "install-chromium: IDR_CHROMIUM=$IDR_CHROMIUM is not an executable" >&2; exit 1; }
  exit 0
fi
present() { [ -x /usr/bin/chromium ]; }
if present; then
  echo "install-chromium: chromium $(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo '?')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-chromium: must run as root (or with sudo available)" >&2; exit 1; }
  SUDO="sudo"
fi

cand="$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')"
if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
  echo "install-chromium: apt-get update" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
fi
echo "install-chromium: installing chromium" >&2
start=$(date +%s)
install_pkg() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2; }
if ! install_pkg; then
  # Stale package lists (404 on a superseded .deb): refresh once and retry.
  echo "install-chromium: install failed; apt-get update and retry" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  install_pkg
fi
echo "install-chromium: apt-get install took $(( $(date +%s) - start )) s" >&2
present || { echo "install-chromium: install finished but /usr/bin/chromium is missing" >&2; exit 1; }
echo "install-chromium: chromium $(dpkg-query -W -f='${Version}' chromium)"

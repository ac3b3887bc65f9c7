#!/usr/bin/env bash
# Debian packages the integration tests need: a real DICOMweb server (Orthanc + its DICOMweb
# plugin, dcmtk) and the browser the web page's tests drive (Chromium). Idempotent and quick when
# already installed; needs root (CI runs as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/install-orthanc.sh"
bash "$ROOT/scripts/install-chromium.sh"

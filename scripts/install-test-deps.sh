#!/usr/bin/env bash
# Debian packages the integration tests need (a real DICOMweb server: Orthanc + its DICOMweb
# plugin, dcmtk). Idempotent and quick when already installed; needs root (CI runs as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$ROOT/scripts/install-orthanc.sh" ]; then
  bash "$ROOT/scripts/install-orthanc.sh"
fi

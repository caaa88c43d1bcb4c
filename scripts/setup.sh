#!/usr/bin/env bash
# Installs everything TGDM needs on a fresh Debian 12 machine (Swift itself is expected at /opt/swift or on PATH).
# Idempotent and quick when everything is already there.
set -euo pipefail

APT_PACKAGES=(
  libtorch-dev        # the engine: libtorch 1.13.1 (ATen + autograd, oneDNN, OpenMP)
  libgloo-dev         # Gloo headers for the c10d process group (data-parallel training; the library ships with libtorch)
  libopenblas-dev     # fast BLAS behind libtorch's matmul (about 50x faster than the reference BLAS)
  python3-torch       # the same libtorch from Python: reference fixtures and benchmark baselines
  python3-numpy
  ffmpeg              # video/audio decode and encode
  espeak-ng           # speech for tests and demos
  sox
  libpng-dev          # image codecs
  libjpeg62-turbo-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

command -v swift >/dev/null || { [ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH; }
command -v swift >/dev/null || { echo "setup: Swift toolchain not found (install Swift 6 and put it on PATH)" >&2; exit 1; }

cd "$(dirname "$0")/.."
# models.sh exits non-zero when a model cannot be installed; that fails setup (and CI).
bash scripts/models.sh
echo "setup: done"

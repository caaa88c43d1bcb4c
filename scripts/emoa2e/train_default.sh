#!/usr/bin/env bash
# Reproduces Models/emoa2e/emoa2e_minilm_transformer.safetensors and runs/emoa2e/report.json: synthesises
# espeak-ng speech, builds viseme + emotion expression targets in the face model's space, trains the
# transformer, GRU and MLP EmoA2E backbones with the same budget and evaluates them (docs/EMOA2E.md).
# Needs the MiniLM weights (scripts/text/install_minilm.sh) and the default face model. ~15 min on a CPU.
#   TGDM_EMOA2E_STEPS=N   step budget per backbone (default 2000)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
bash scripts/text/install_minilm.sh
# One libtorch thread and one BLAS thread: on a small shared machine extra threads only contend.
mkdir -p runs
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TGDM_TRAIN_EMOA2E=1
swift test --scratch-path "${SCRATCH:-.build}" --filter EmoA2EDefaultModelTraining 2>&1 | grep -v '^\[[0-9]*/[0-9]*\]' | tee runs/emoa2e-train.log

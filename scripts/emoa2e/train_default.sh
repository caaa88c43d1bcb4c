#!/usr/bin/env bash
# Reproduces Models/emoa2e/emoa2e_minilm_transformer.safetensors and runs/emoa2e/report.json: synthesises
# espeak-ng speech, builds viseme + emotion expression targets in the face model's space, trains the
# transformer, GRU and MLP EmoA2E backbones with the same budget and evaluates them (docs/EMOA2E.md).
# Needs the MiniLM weights (scripts/text/install_minilm.sh) and the default face model. ~15 min on a CPU.
#   TGDM_EMOA2E_STEPS=N   step budget per backbone (default: the recipe's 2000)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
bash scripts/text/install_minilm.sh
# One libtorch thread and one BLAS thread: on a small shared machine extra threads only contend.
mkdir -p runs
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
swift build -c release --product tgdm
.build/release/tgdm train a2e --threads 1 ${TGDM_EMOA2E_STEPS:+--steps "$TGDM_EMOA2E_STEPS"} \
  --ship Models/emoa2e/emoa2e_minilm_transformer.safetensors 2>&1 | tee runs/emoa2e-train.log

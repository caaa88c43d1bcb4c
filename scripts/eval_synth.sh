#!/usr/bin/env bash
# The synthetic-benchmark evaluation of docs/RESULTS.md on the fixed, seeded split: the 16 held-out pairs
# 0, 105, …, 1575 of the test split of data/synth64.safetensors (300 identities × 8 frames, seed 0, the last 30
# identities held out: 1 680 test pairs), sampler seed 0 + batch index, for the generator output and the
# pipeline's warp composite, with both motion readouts (Face Mesh landmarks, the default, and the photometric
# fitter with the known identity and texture). Reports: runs/eval/synth64-{landmarks,photometric}.{json,png}.
#
#   scripts/eval_synth.sh                                   # the texAtt model (tgdm_synth64), release build
#   MODEL=runs/x/checkpoint.safetensors TGDM=.build/debug/tgdm scripts/eval_synth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

if [[ -z "${TGDM:-}" ]]; then
  swift build -c release --product tgdm
  TGDM=.build/release/tgdm
fi
MODEL=${MODEL:-Models/tgdm/tgdm_synth64.safetensors}
OUT=${OUT:-runs/eval}
mkdir -p "$OUT" data
[[ -f data/synth64.safetensors ]] || "$TGDM" dataset synth --size 64 --identities 300 --frames 8 --test-identities 30 --seed 0 -o data/synth64.safetensors

SPLIT=(--data data/synth64.safetensors --split test --count 16 --seed 0 --composite)
"$TGDM" eval tgdm --checkpoint "$MODEL" "${SPLIT[@]}" --motion landmarks -o "$OUT/synth64-landmarks.json"
# The photometric readout only (the other columns are the same images and numbers as above).
"$TGDM" eval tgdm --checkpoint "$MODEL" "${SPLIT[@]}" --motion photometric --fit-iterations 40 --no-face-metrics --no-fid \
  -o "$OUT/synth64-photometric.json"

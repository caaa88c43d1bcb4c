#!/usr/bin/env bash
# Reproduces the TGDM numbers of docs/RESULTS.md and the shipped Models/tgdm/*.safetensors (tgdm_synth64_warp is the default):
#   data       synthetic datasets (64² for the default model, 32² for the Table 2 ablations)
#   default    the default model: small64, texAtt (the shipped one)
#   ablations  the four Table 2 variants at tiny32, equal steps / batch / lr / EMA / seed
#   warp       the issue-#10 ablation at tiny32, equal budget: texAtt, warp only (plain + warp), texAtt + warp
#   warp64     the warp-aware default model: small64 texAtt + warp, fine-tuned from the texAtt model (its
#              first 6 input channels; the 4 warp channels start at zero)
#   swap64     the paper's swap model (Sec. 4.4): small64 texAtt + z_id on face-masked frames, fine-tuned from
#              the texAtt model (Linear(z_id) starts at zero)
#   eval       held-out evaluation of every run, same pairs and sampler seeds
#   export     EMA-only float32 model files
# CPU only. Every step is seeded (batch order, timesteps, noise, sampler), so a rerun gives the same
# numbers up to floating-point differences between thread counts. The recorded run used --max-minutes
# for the default model; DEFAULT_STEPS is the step count it reached (513 steps, then resumed to 2039).
# The recorded run predates the EMA warm-up; a rerun has the same raw weights and a negligibly different EMA.
#
#   scripts/train_tgdm.sh                 # everything
#   STAGES="eval" scripts/train_tgdm.sh   # only re-evaluate existing runs
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

SCRATCH=${SCRATCH:-.build-train-rel}
STAGES=${STAGES:-"data default ablations warp warp64 swap64 eval export"}
DEFAULT_STEPS=${DEFAULT_STEPS:-2039}
ABLATION_STEPS=${ABLATION_STEPS:-500}
WARP_STEPS=${WARP_STEPS:-500}
WARP64_STEPS=${WARP64_STEPS:-1000}
SWAP64_STEPS=${SWAP64_STEPS:-1000}
# The texAtt model the warp64 run starts from: the shipped one unless the default stage ran here.
WARP64_INIT=${WARP64_INIT:-Models/tgdm/tgdm_synth64.safetensors}
COMMON=(--batch 8 --lr 5e-4 --ema-decay 0.99 --seed 0 --log-every 25 --artifact-every 0 --checkpoint-every 50)

swift build -c release --scratch-path "$SCRATCH" --product tgdm
TGDM="$SCRATCH/release/tgdm"
has() { [[ " $STAGES " == *" $1 "* ]]; }

if has data; then
  # 300 identities x 8 frames, the last 30 identities held out (15 120 train / 1 680 test pairs).
  [[ -f data/synth64.safetensors ]] || "$TGDM" dataset synth --size 64 --identities 300 --frames 8 --test-identities 30 --seed 0 -o data/synth64.safetensors
  [[ -f data/synth32.safetensors ]] || "$TGDM" dataset synth --size 32 --identities 300 --frames 8 --test-identities 30 --seed 0 -o data/synth32.safetensors
fi

if has default; then
  "$TGDM" train tgdm --data data/synth64.safetensors --preset small64 --variant texAtt --steps "$DEFAULT_STEPS" "${COMMON[@]}" --out runs/default-texAtt
fi

# The 200-step rows of docs/RESULTS.md: ABLATION_STEPS=200 STAGES="ablations eval" (then rerun with 500: exact resume).
if has ablations; then
  for v in texAtt imageConcat featureConcat noRender; do
    "$TGDM" train tgdm --data data/synth32.safetensors --preset tiny32 --variant "$v" --steps "$ABLATION_STEPS" "${COMMON[@]}" --out "runs/ablation32-$v"
  done
fi

# Issue #10: texAtt alone, the warp alone (no source branch), texAtt + warp; same steps, data, seeds.
if has warp; then
  "$TGDM" train tgdm --data data/synth32.safetensors --preset tiny32 --variant texAtt --steps "$WARP_STEPS" "${COMMON[@]}" --out runs/ablation32-texAtt
  "$TGDM" train tgdm --data data/synth32.safetensors --preset tiny32 --variant plain --warp --steps "$WARP_STEPS" "${COMMON[@]}" --out runs/warp32-plain
  "$TGDM" train tgdm --data data/synth32.safetensors --preset tiny32 --variant texAtt --warp --steps "$WARP_STEPS" "${COMMON[@]}" --out runs/warp32-texAtt
fi

if has warp64; then
  "$TGDM" train tgdm --data data/synth64.safetensors --preset small64 --variant texAtt --warp --steps "$WARP64_STEPS" "${COMMON[@]}" \
    --init-from "$WARP64_INIT" --out runs/warp64-texAtt
fi

if has swap64; then
  "$TGDM" train tgdm --data data/synth64.safetensors --preset small64 --variant texAtt --task swap --identity --steps "$SWAP64_STEPS" \
    "${COMMON[@]}" --init-from "$WARP64_INIT" --out runs/swap64-texAtt
fi

if has eval; then
  # The same test pairs (spread evenly over the 1 680 held-out pairs) and sampler seeds (seed 0 + batch); the
  # default model with its own sampler (DDIM 50, η = 1) and with DDIM 25, η = 0; the ablations with DDIM 25, η = 0.
  "$TGDM" eval tgdm --checkpoint runs/default-texAtt/checkpoint.safetensors --data data/synth64.safetensors --split test \
    --count 16 --sampler ddim --steps 50 --eta 1 --seed 0 --fit-iterations 40 -o runs/eval/default-texAtt.json
  "$TGDM" eval tgdm --checkpoint runs/default-texAtt/checkpoint.safetensors --data data/synth64.safetensors --split test \
    --count 16 --sampler ddim --steps 25 --eta 0 --seed 0 --fit-iterations 40 -o runs/eval/default-texAtt-ddim25.json
  # Issue #10/#14: the warp model with its shipped sampler (DDIM 25 from the warped source at strength 0.3, i.e. 7
  # denoising steps) and from noise (DDIM 50), beside the texAtt model (DDIM 50 from noise); raw output and composite.
  E64=(--data data/synth64.safetensors --split test --count 16 --seed 0 --composite)
  "$TGDM" eval tgdm --checkpoint runs/warp64-texAtt/checkpoint.safetensors "${E64[@]}" --sampler ddim --steps 25 --eta 1 --strength 0.3 -o runs/eval/warp64-i2i25-s0.3.json
  "$TGDM" eval tgdm --checkpoint runs/warp64-texAtt/checkpoint.safetensors "${E64[@]}" --sampler ddim --steps 25 --eta 1 --strength 0.4 -o runs/eval/warp64-i2i25-s04.json
  "$TGDM" eval tgdm --checkpoint runs/warp64-texAtt/checkpoint.safetensors "${E64[@]}" --sampler ddim --steps 20 --eta 1 --strength 0.4 -o runs/eval/warp64-i2i20-s0.4.json
  "$TGDM" eval tgdm --checkpoint runs/warp64-texAtt/checkpoint.safetensors "${E64[@]}" --sampler ddim --steps 50 --eta 1 -o runs/eval/warp64-ddim50.json
  "$TGDM" eval tgdm --checkpoint Models/tgdm/tgdm_synth64.safetensors "${E64[@]}" --sampler ddim --steps 50 --eta 1 -o runs/eval/default-ddim50-composite.json
  # The issue-#10 ablation at 32², real metrics.
  for r in ablation32-texAtt warp32-plain warp32-texAtt; do
    "$TGDM" eval tgdm --checkpoint "runs/$r/checkpoint.safetensors" --data data/synth32.safetensors --split test --count 16 \
      --sampler ddim --steps 25 --eta 0 --seed 0 -o "runs/eval/warpablation-$r.json"
  done
  for v in texAtt imageConcat featureConcat noRender; do
    "$TGDM" eval tgdm --checkpoint "runs/ablation32-$v/checkpoint.safetensors" --data data/synth32.safetensors --split test \
      --count 16 --sampler ddim --steps 25 --eta 0 --seed 0 --fit-iterations 40 -o "runs/eval/ablation32-$v.json"
  done
fi

if has export; then
  if [[ -f runs/default-texAtt/checkpoint.safetensors ]]; then
    "$TGDM" eval export --checkpoint runs/default-texAtt/checkpoint.safetensors -o Models/tgdm/tgdm_synth64.safetensors \
      --note "TGDM small64 texAtt on the synthetic 64² benchmark (300 identities x 8 frames, 30 held out, seed 0), ${DEFAULT_STEPS} steps, batch 8, lr 5e-4, EMA 0.99"
  fi
  if [[ -f runs/swap64-texAtt/checkpoint.safetensors ]]; then
    "$TGDM" eval export --checkpoint runs/swap64-texAtt/checkpoint.safetensors -o Models/tgdm/tgdm_swap64.safetensors \
      --note "TGDM small64 swap model (texAtt + z_id, face-masked sources with the mouth kept) on the synthetic 64² benchmark, fine-tuned for ${SWAP64_STEPS} steps from ${WARP64_INIT}, batch 8, lr 5e-4, EMA 0.99"
  fi
  if [[ -f runs/warp64-texAtt/checkpoint.safetensors ]]; then
    "$TGDM" eval export --checkpoint runs/warp64-texAtt/checkpoint.safetensors -o Models/tgdm/tgdm_synth64_warp.safetensors \
      --steps 25 --start-strength 0.3 \
      --note "TGDM small64 texAtt + warped source on the synthetic 64² benchmark, fine-tuned for ${WARP64_STEPS} steps from ${WARP64_INIT}, batch 8, lr 5e-4, EMA 0.99; sampled by DDIM 25 (η 1) from the warped source noised to strength 0.3"
  fi
fi

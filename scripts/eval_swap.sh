#!/usr/bin/env bash
# Table 4 of docs/RESULTS.md (face swapping, Sec. 4.4): 8 identity → target pairs among the real photos
# (Samples/astronaut.png, Samples/grace_hopper.jpg) and the synthetic samples (source, target, driving), each
# swapped four ways:
#   recombination            `tgdm swap` (the default): α of the identity source + everything else of the target;
#                            the identity's inner face warped onto the target geometry by the 3DMM correspondence,
#                            the target's own pixels where that warp is missing (WarpCompositor.swap)
#   recombination, generator the default model's own output for the same job (`--composition generator`)
#   swap model               `tgdm swap --model Models/tgdm/tgdm_swap64.safetensors`: the paper's swap model
#                            (face-masked target + I_3d + ρ̂ + z_id, the dlib embedding standing in for
#                            CurricularFace); its face region replaces the target's (WarpCompositor.swapModel)
#   copy target              the target returned unchanged (the trivial baseline)
# Scored by `tgdm eval folder`: ID-A = dlib distance (and cosine) of the result to the identity source, the same
# to the target, Exp/Angle/Gaze against the target's readout, background change outside the face, KID/FID vs
# the targets (n = 8: compare rows only). Seeded; reports in runs/eval_swap/.
#
#   scripts/eval_swap.sh                          # builds the release tgdm first
#   TGDM=.build/debug/tgdm scripts/eval_swap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
if [[ -z "${TGDM:-}" ]]; then
  swift build -c release --product tgdm
  TGDM=.build/release/tgdm
fi
SWAP_MODEL=${SWAP_MODEL:-Models/tgdm/tgdm_swap64.safetensors}
OUT=${OUT:-runs/eval_swap}
rm -rf "$OUT"
mkdir -p "$OUT"/{identities,targets,recombination,recombination_generator,swap_model,copy_target,grids}
declare -A IMG=([astronaut]=Samples/astronaut.png [hopper]=Samples/grace_hopper.jpg [source]=Samples/source.png
                [target]=Samples/target.png [driving]=Samples/driving.png)
PAIRS="hopper:astronaut astronaut:hopper source:astronaut astronaut:target hopper:target source:target driving:astronaut hopper:driving"
for pair in $PAIRS; do
  i=${pair%%:*}; t=${pair##*:}; name="$i-on-$t"
  ffmpeg -v error -y -i "${IMG[$i]}" "$OUT/identities/$name.png"
  ffmpeg -v error -y -i "${IMG[$t]}" "$OUT/targets/$name.png"
  cp "$OUT/targets/$name.png" "$OUT/copy_target/$name.png"
  "$TGDM" swap --source "${IMG[$i]}" --target "${IMG[$t]}" --seed 0 -o "$OUT/recombination/$name.png" \
    --save-coeffs "$OUT/recombination/$name.coeffs.json" --grid "$OUT/grids/recombination-$name.png" >/dev/null
  "$TGDM" swap --composition generator --source "${IMG[$i]}" --target "${IMG[$t]}" --seed 0 -o "$OUT/recombination_generator/$name.png" \
    --save-coeffs "$OUT/recombination_generator/$name.coeffs.json" >/dev/null
  "$TGDM" swap --model "$SWAP_MODEL" --source "${IMG[$i]}" --target "${IMG[$t]}" --seed 0 -o "$OUT/swap_model/$name.png" \
    --save-coeffs "$OUT/swap_model/$name.coeffs.json" --grid "$OUT/grids/swap_model-$name.png" >/dev/null
done
for m in recombination recombination_generator swap_model copy_target; do
  echo "## $m (identity source = the ID-A reference; motion and background against the target)" | tee "$OUT/$m.md"
  "$TGDM" eval folder --generated "$OUT/$m" --source "$OUT/identities" --reference "$OUT/targets" --no-emotion \
    --background reference -o "$OUT/$m.json" | tee -a "$OUT/$m.md"
  echo "## $m: identity against the target" | tee "$OUT/$m-vs-target.md"
  "$TGDM" eval folder --generated "$OUT/$m" --source "$OUT/targets" --no-motion --no-pixels --no-fid --no-emotion \
    -o "$OUT/$m-vs-target.json" | tee -a "$OUT/$m-vs-target.md"
done
echo "reports: $OUT/*.md"

#!/usr/bin/env bash
# The real-photo evaluation of docs/RESULTS.md: runs the pipeline with the CLI on the real photos we have
# (Samples/astronaut.png and its committed variants rotated.png and small.png from
# Tests/FaceAnalysisTests/Fixtures/mediapipe/) driven by the Samples/ drivers, then scores the outputs with
# `tgdm eval folder` / `tgdm eval video`:
#   reenact  3 sources x 2 driving images (Samples/driving.png, Samples/target.png)
#   swap     the astronaut's identity onto Samples/target.png, and Samples/source.png's onto the astronaut
#   video    the astronaut driven by the first 25 frames of Samples/driving_video.mp4
#   talk     the astronaut speaking an espeak-ng sentence, emotion "happy"
# Scores: identity (dlib) of the output vs its identity source, Exp/Angle/Gaze of the output (Face Mesh +
# LandmarkFitter) vs ρ̂ (the coefficients the pipeline generated it from, saved with --save-coeffs) and vs the
# driver's own readout, background change outside the face, flicker (videos), emotion, lip-sync proxy.
# Every step is seeded (--seed 0), so reruns give the same numbers. Outputs and reports: runs/eval_real/.
#
#   scripts/eval_real.sh                          # builds the release tgdm first
#   TGDM=.build/debug/tgdm scripts/eval_real.sh   # or any built binary
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

if [[ -z "${TGDM:-}" ]]; then
  swift build -c release --product tgdm
  TGDM=.build/release/tgdm
fi
OUT=${OUT:-runs/eval_real}
FIX=Tests/FaceAnalysisTests/Fixtures/mediapipe
rm -rf "$OUT"
mkdir -p "$OUT"/{reenact,reenact_sources,reenact_drivers,swap,swap_identities,swap_targets}

# Reenactment: output NAME.png with its ρ̂ as NAME.coeffs.json (the sidecar `tgdm eval folder` reads).
declare -A SOURCES=([astronaut]=Samples/astronaut.png [rotated]=$FIX/rotated.png [small]=$FIX/small.png)
for s in astronaut rotated small; do
  for d in driving target; do
    name="$s-$d"
    "$TGDM" reenact --source "${SOURCES[$s]}" --driving "Samples/$d.png" --seed 0 \
      -o "$OUT/reenact/$name.png" --save-coeffs "$OUT/reenact/$name.coeffs.json"
    cp "${SOURCES[$s]}" "$OUT/reenact_sources/$name.png"
    cp "Samples/$d.png" "$OUT/reenact_drivers/$name.png"
  done
done
# Drivers are other people at another size: no pixel metrics or LMD; Exp/Angle/Gaze vs the driver's readout
# is the paper's cross-identity protocol, "vs ρ̂" checks the pipeline against its own target coefficients.
"$TGDM" eval folder --generated "$OUT/reenact" --source "$OUT/reenact_sources" --reference "$OUT/reenact_drivers" \
  --no-pixels --no-fid --background source -o "$OUT/reenact.json" | tee "$OUT/reenact.md"

# Face swapping: the output lies in the target's frame and should keep its background; ID against the identity source.
"$TGDM" swap --source Samples/astronaut.png --target Samples/target.png --seed 0 \
  -o "$OUT/swap/astronaut-on-target.png" --save-coeffs "$OUT/swap/astronaut-on-target.coeffs.json"
cp Samples/astronaut.png "$OUT/swap_identities/astronaut-on-target.png"; cp Samples/target.png "$OUT/swap_targets/astronaut-on-target.png"
"$TGDM" swap --source Samples/source.png --target Samples/astronaut.png --seed 0 \
  -o "$OUT/swap/synthetic-on-astronaut.png" --save-coeffs "$OUT/swap/synthetic-on-astronaut.coeffs.json"
cp Samples/source.png "$OUT/swap_identities/synthetic-on-astronaut.png"; cp Samples/astronaut.png "$OUT/swap_targets/synthetic-on-astronaut.png"
"$TGDM" eval folder --generated "$OUT/swap" --source "$OUT/swap_identities" --reference "$OUT/swap_targets" \
  --no-fid --background reference -o "$OUT/swap.json" | tee "$OUT/swap.md"

# Video-driven: 25 frames; the reference is the driving video (another person: no pixel metrics).
"$TGDM" video --source Samples/astronaut.png --driving Samples/driving_video.mp4 --max-frames 25 --seed 0 \
  -o "$OUT/video.mp4" --save-coeffs "$OUT/video.coeffs.json"
"$TGDM" eval video --generated "$OUT/video.mp4" --reference Samples/driving_video.mp4 --source Samples/astronaut.png \
  --max-frames 25 --no-pixels --no-fid --background source -o "$OUT/video.json" | tee "$OUT/video.md"

# Audio-driven with an emotion prompt: ρ̂ saved next to the video; the audio is the video's own track.
"$TGDM" talk --source Samples/astronaut.png --text "The quick brown fox jumps over the lazy dog." --emotion happy --seed 0 \
  -o "$OUT/talk.mp4" --save-coeffs "$OUT/talk.coeffs.json"
"$TGDM" eval video --generated "$OUT/talk.mp4" --source Samples/astronaut.png --emotion happy \
  --no-pixels --no-fid --background source -o "$OUT/talk.json" | tee "$OUT/talk.md"

echo "reports: $OUT/{reenact,swap,video,talk}.{json,md}"

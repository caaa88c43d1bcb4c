#!/usr/bin/env bash
# From a fresh clone: a tiny raw corpus in the `folder` layout (synthetic talking faces with espeak-ng speech,
# one clip without a face), `tgdm dataset prepare` on it, then TGDM and EmoA2E training with 2 processes on
# the prepared shards. Minutes on a laptop; the commands are the ones docs/TRAINING.md uses at scale.
#
#   bash scripts/scaleout_smoke.sh [WORK_DIR]      (default: out/scaleout-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE
WORK=${1:-out/scaleout-smoke}
swift build --product tgdm
TGDM="$PWD/.build/debug/tgdm"
mkdir -p "$WORK"
cd "$WORK"

if [ ! -f raw/.complete ]; then
  rm -rf raw samples
  "$TGDM" dataset samples --size 128 --frames 40 --seed 9101 -o samples >/dev/null
  for i in 1 2 3; do
    mkdir -p raw/speaker$i
    espeak-ng -s 150 -w raw/speaker$i/speech.wav "sample sentence number $i for the talking face corpus"
    ffmpeg -v error -y -i samples/driving_video.mp4 -i raw/speaker$i/speech.wav -c:v libx264 -preset ultrafast -c:a aac -shortest \
      raw/speaker$i/clip$i.mp4
    rm raw/speaker$i/speech.wav
  done
  mkdir -p raw/empty
  ffmpeg -v error -y -f lavfi -i color=c=gray:s=128x128:d=1.6:r=25 -f lavfi -i sine=d=1.6 -c:v libx264 -preset ultrafast -c:a aac \
    -shortest raw/empty/room.mp4
  touch raw/.complete
fi

"$TGDM" dataset prepare --layout folder raw prepared --crop-size 128 --fit-iterations-first 20 --fit-iterations 4 --clips-per-shard 1
"$TGDM" train tgdm --data prepared --preset tiny32 --window 1 --steps 20 --batch 4 --log-every 5 --artifact-every 0 \
  --preview-steps 5 --out tgdm-run --nproc 2
"$TGDM" train a2e --data prepared --backbones transformer --window-frames 16 --steps 20 --batch 4 --out a2e-run --nproc 2
echo "scaleout smoke: prepared corpus in $WORK/prepared, runs in $WORK/tgdm-run and $WORK/a2e-run"

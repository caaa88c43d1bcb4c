#!/usr/bin/env bash
# The README's real-photo figure from `tgdm demo`'s outputs: one row per driver (image, video, speech) and the
# face swap; columns source | driver | output, the output cropped around the face of the full frame.
#
#   tgdm demo -o out/demo && bash scripts/readme_figure.sh out/demo docs/images/real_photos.png
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${1:-out/demo}
OUT=${2:-docs/images/real_photos.png}
FRAME=${FRAME:-30}                               # the video and talk frame shown
FACE="crop=230:230:154:0,scale=256:256"          # the astronaut's face in her 512² frame
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
label() { echo "drawtext=fontfile=$FONT:text='$1':x=6:y=6:fontsize=16:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4"; }
frame() { ffmpeg -v error -y -i "$1" -vf "select=eq(n\\,$FRAME)" -vframes 1 "$2"; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
frame "$DEMO/video.mp4" "$TMP/video.png"
frame "$DEMO/talk.mp4" "$TMP/talk.png"
frame Samples/driving_video.mp4 "$TMP/driver.png"
# The talk row's driver is the speech: the 3DMM render of EmoA2E's motion (the I_3d panel of the side-by-side video).
ffmpeg -v error -y -i "$DEMO/talk_side_by_side.mp4" -vf "select=eq(n\\,$FRAME),crop=256:256:256:0" -vframes 1 "$TMP/speech.png"
ffmpeg -v error -y \
  -i Samples/astronaut.png -i Samples/driving.png -i "$DEMO/reenact.png" \
  -i "$TMP/driver.png" -i "$TMP/video.png" -i "$TMP/speech.png" -i "$TMP/talk.png" \
  -i Samples/grace_hopper.jpg -i "$DEMO/swap.png" \
  -filter_complex "
    [0:v]split=4[s0][s1][s2][s3];
    [s0]$FACE,$(label 'source (real photo)')[a0]; [1:v]scale=256:256,$(label 'driving image')[a1]; [2:v]$FACE,$(label 'output')[a2];
    [s1]$FACE,$(label 'source')[b0]; [3:v]scale=256:256,$(label 'driving video')[b1]; [4:v]$FACE,$(label 'output')[b2];
    [s2]$FACE,$(label 'source')[c0]; [5:v]$(label 'speech + happy (I_3d)')[c1]; [6:v]$FACE,$(label 'output')[c2];
    [7:v]crop=512:512:0:0,scale=256:256,$(label 'identity (real photo)')[d0]; [s3]$FACE,$(label 'target')[d1]; [8:v]$FACE,$(label 'swapped')[d2];
    [a0][a1][a2][b0][b1][b2][c0][c1][c2][d0][d1][d2]xstack=inputs=12:layout=0_0|w0_0|w0+w1_0|0_h0|w0_h0|w0+w1_h0|0_h0+h1|w0_h0+h1|w0+w1_h0+h1|0_h0+h1+h2|w0_h0+h1+h2|w0+w1_h0+h1+h2[out]" \
  -map "[out]" -frames:v 1 "$OUT"
echo "wrote $OUT"

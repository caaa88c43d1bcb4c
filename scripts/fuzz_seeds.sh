#!/usr/bin/env bash
# Writes the committed seed corpora of the fuzz targets (Fuzz/corpus/NAME): small valid inputs of each format,
# so the fuzzers start inside the parsers. Run once; the output is committed (a few KB per target).
# Needs ffmpeg, ffprobe and /usr/bin/python3 (numpy, for the safetensors seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
C=Fuzz/corpus
mkdir -p $C/png $C/jpeg $C/safetensors $C/coeffjson $C/probe
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
src=(-f lavfi -i "testsrc2=size=12x10:rate=1" -frames:v 1)

# PNG: every colour type and bit depth the decoder converts, plus an odd size.
for fmt in rgb24 rgba gray gray16be ya8 pal8 rgb48be monob; do ff "${src[@]}" -pix_fmt $fmt "$C/png/$fmt.png"; done
ff "${src[@]}" -vf format=rgb24,scale=3:1 -pix_fmt rgb24 -pred paeth "$C/png/3x1-paeth.png"

# JPEG: 4:2:0, 4:4:4, grayscale, restart markers.
ff "${src[@]}" -pix_fmt yuvj420p -q:v 5 "$C/jpeg/420.jpg"
ff "${src[@]}" -pix_fmt yuvj444p -q:v 2 "$C/jpeg/444.jpg"
ff "${src[@]}" -pix_fmt gray -q:v 8 "$C/jpeg/gray.jpg"
ff -f lavfi -i "testsrc2=size=33x17:rate=1" -frames:v 1 -pix_fmt yuvj422p -q:v 20 "$C/jpeg/422-odd.jpg"

# safetensors: a coefficient row, a mixed-dtype file with metadata, an empty file, a zero-size tensor.
/usr/bin/python3 - "$C/safetensors" <<'EOF'
import os, sys
import numpy as np
import torch
sys.path.insert(0, "scripts/fixtures")
import st
out = sys.argv[1]
g = torch.Generator().manual_seed(0)
st.save({"coefficients": torch.randn((1, 261), generator=g) * 0.1}, os.path.join(out, "coefficients.safetensors"),
        metadata={"format": "tgdm-3dmm-coefficients"})
st.save({"a.weight": torch.randn((2, 3), generator=g).half(), "b": torch.arange(4), "c": torch.tensor([True, False]),
         "d": torch.zeros((2, 2), dtype=torch.float64), "e": torch.tensor([1, 2], dtype=torch.int32),
         "f": torch.tensor([7], dtype=torch.uint8)},
        os.path.join(out, "mixed.safetensors"), metadata={"step": "3", "note": "seed"})
st.save({}, os.path.join(out, "empty.safetensors"), metadata={"format": "x"})
st.save({"z": torch.zeros((0, 5))}, os.path.join(out, "zero-size.safetensors"))
EOF

# Coefficient JSON: a real sidecar and a compact two-frame file.
cp Samples/source.coeffs.json "$C/coeffjson/sidecar.json"
/usr/bin/python3 - "$C/coeffjson/two-frames.json" <<'EOF'
import json, sys
frame = {"identity": [0.0] * 80, "expression": [0.1] * 64, "texture": [0.0] * 80, "illumination": [0.0] * 27,
         "pose": {"angles": [0.0, 0.2, 0.0], "translation": [0.0, 0.0, 0.0]}, "gaze": [0.0] * 4}
json.dump({"format": "tgdm-3dmm-coefficients", "version": 1, "frames": [frame, frame]}, open(sys.argv[1], "w"),
          separators=(",", ":"))
EOF

# ffprobe output: the first byte selects the parser (0 video JSON, 1 packet count, 2 audio duration).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff -f lavfi -i "sine=frequency=440:duration=0.3" "$tmp/a.wav"
ff -f lavfi -i "testsrc2=size=16x16:rate=25" -f lavfi -i "sine=duration=0.2" -t 0.2 -pix_fmt yuv420p "$tmp/v.mkv"
probe_json() { ffprobe -v error -show_entries stream=codec_type,width,height,r_frame_rate,avg_frame_rate,nb_frames,duration:format=duration -of json "$1"; }
{ printf '\x00'; probe_json Samples/driving_video.mp4; } > "$C/probe/mp4.bin"
{ printf '\x00'; probe_json "$tmp/v.mkv"; } > "$C/probe/mkv-no-nb-frames.bin"
{ printf '\x01'; ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$tmp/v.mkv"; } > "$C/probe/count.bin"
{ printf '\x02'; ffprobe -v error -select_streams a:0 -show_entries stream=duration:format=duration -of default=nw=1:nk=1 "$tmp/a.wav"; } > "$C/probe/wav-duration.bin"
du -sh $C/*

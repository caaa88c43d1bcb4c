#!/usr/bin/env bash
# The real-photo expression set of docs/EVALUATION.md: every portrait (astronaut, Grace Hopper and their relit, turned
# and smaller variants, made in code) × every drive (driving.png, a photo showing teeth, blinks, jaw, smile, pout, yaw and
# pitch edits), scored by Face Mesh, dlib and CIELAB region statistics. Writes grid.png, cells.json and table.md.
#
#   scripts/expression_set.sh [OUT (default out/expressions)] [tgdm eval expressions options, e.g. --portraits shipped]
#   TGDM=.build/debug/tgdm scripts/expression_set.sh     # any built binary instead of building the release one
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
if [[ -z "${TGDM:-}" ]]; then
  swift build -c release --product tgdm
  TGDM=.build/release/tgdm
fi
OUT=${1:-out/expressions}
shift $(( $# > 0 ? 1 : 0 ))
"$TGDM" eval expressions -o "$OUT" "$@"

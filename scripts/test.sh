#!/usr/bin/env bash
# The test command from README.md: install what is missing, build, run every test target.
# TGDM_CI=1 (set by .ci/run): a test that would skip for a missing dependency (model, ffmpeg, espeak-ng, the
# tgdm executable) fails instead, and any skipped test left in the log fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/opt/swift/usr/bin:$PATH
# libgomp threads spin by default; on a shared 2-core machine that makes libtorch many times slower.
export OMP_WAIT_POLICY=PASSIVE
swift build --build-tests
log=/tmp/tgdm-test.log   # kept after the run: the before-stop hook reads it for skipped tests
swift test --skip-build 2>&1 | tee "$log"
if [ "${TGDM_CI:-0}" = "1" ] && grep -E "^Test Case '.*' skipped" "$log"; then
  echo "test: FAILED: tests were skipped under TGDM_CI=1 (see above); setup must install everything they need" >&2
  exit 1
fi
# The numeric targets once more with other kernels and another thread count than the run above (oneDNN capped at
# SSE4.1, OpenBLAS's Sandy Bridge kernels, 2 threads): float gates must not depend on the CPU (the whole matrix:
# scripts/numeric_matrix.sh).
bash scripts/numeric_matrix.sh --ci --skip-build
# The HTTP API against docs/openapi.yaml (schemathesis, every check).
bash scripts/api_schema_check.sh
# A libFuzzer smoke of the parsers that are cheap to build (30 s each).
bash scripts/fuzz.sh --smoke 30

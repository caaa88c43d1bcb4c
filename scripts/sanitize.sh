#!/usr/bin/env bash
# Runs tests under AddressSanitizer, with LeakSanitizer checking the C/C++ code (the libtorch shim, the image
# codecs) at exit. Swift targets are built with -sanitize=address and the C/C++ targets with -fsanitize=address
# (`swift build --sanitize=address`) into .build-asan; libtorch, libpng, libjpeg and ffmpeg are the system's,
# not instrumented.
#
#   bash scripts/sanitize.sh               # the fast subset (engine, media, face model, CLI bad inputs): ~10 min
#   bash scripts/sanitize.sh --all         # every test target (slow)
#   bash scripts/sanitize.sh 'MediaTests'  # a `swift test --filter` expression
#
# Every instrumented process (the test runner and the `tgdm` children the CLI tests start) writes its report to
# .build-asan/reports/; the run fails when a test fails or any report appears. Leaks inside libraries we do not
# build (libtorch's and the Swift runtime's process-lifetime caches) are suppressed by scripts/sanitize.supp;
# a leak with a frame in our code is not. Results: docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
BUILD=.build-asan
case "${1:-}" in
  --all) filter="" ;;
  "") filter="TorchTests|MediaTests|FaceModelTests|CoefficientJSONStreamingTests|BadInputTests|PipelineLeakTests" ;;
  *) filter=$1 ;;
esac

echo "sanitize: building with AddressSanitizer into $BUILD"
swift build --build-path "$BUILD" --build-tests --sanitize=address 2>&1 | grep -E "error|warning: .*sanitiz|Build complete" || true
[ -x "$BUILD/debug/tgdm" ] || { echo "sanitize: the build failed" >&2; exit 1; }

reports="$BUILD/reports"
rm -rf "$reports"; mkdir -p "$reports"
# detect_container_overflow: libtorch (uninstrumented) and the shim share std::vector across the boundary, which
# gives false container-overflow reports. Leaks are checked at exit (LeakSanitizer is part of ASan on Linux).
export ASAN_OPTIONS="detect_leaks=1:detect_container_overflow=0:log_path=$PWD/$reports/asan:symbolize=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitize.supp:print_suppressions=0"
export ASAN_SYMBOLIZER_PATH=/opt/swift/usr/bin/llvm-symbolizer
status=0
if [ -n "$filter" ]; then
  swift test --skip-build --build-path "$BUILD" --sanitize=address --filter "$filter" 2>&1 | tee "$BUILD/test.log" | grep -E "error|Executed|failed" | tail -40 || true
else
  swift test --skip-build --build-path "$BUILD" --sanitize=address 2>&1 | tee "$BUILD/test.log" | grep -E "error|Executed|failed" | tail -40 || true
fi
grep -qE "with [1-9][0-9]* failures?|error: .*exited with" "$BUILD/test.log" && status=1
if compgen -G "$reports/asan.*" > /dev/null; then
  echo "sanitize: sanitizer reports (first lines of each):" >&2
  for f in "$reports"/asan.*; do echo "== $f" >&2; grep -E "ERROR|SUMMARY|#[0-9]+ 0x" "$f" | head -12 >&2; done
  status=1
else
  echo "sanitize: no AddressSanitizer or LeakSanitizer reports"
fi
exit $status

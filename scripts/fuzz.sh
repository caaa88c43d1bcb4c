#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of Fuzz/targets for a set time each.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each
#   bash scripts/fuzz.sh png 300         # one target, 5 minutes
#   bash scripts/fuzz.sh --list          # the targets
#   bash scripts/fuzz.sh --build-only    # build every target, run none
#   bash scripts/fuzz.sh --smoke [30]    # what CI runs (scripts/test.sh): the targets cheap to build, 30 s each
#
# A target is one file in Fuzz/targets (a new parser gets a new file; nothing here changes):
#   NAME.swift  defines LLVMFuzzerTestOneInput with @_cdecl; its header line `// fuzz-swiftpm-targets: A B`
#               names the package targets it imports. They are built into .build-fuzz with coverage
#               instrumentation and AddressSanitizer (swiftc -sanitize=fuzzer,address; clang for the C/C++
#               targets), and the harness is linked against their objects.
#   NAME.c      a C harness; `// fuzz-c-sources:` lists the C files it tests, `// fuzz-c-libs:` the libraries.
# Seeds are read from Fuzz/corpus/NAME (committed, small); new inputs go to .build-fuzz/corpus/NAME and crashes
# to .build-fuzz/crashes/NAME/ (each one must become a regression test, see docs/RELIABILITY.md). Exits
# non-zero when a target crashes or fails to build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
BUILD=.build-fuzz
mkdir -p "$BUILD/bin"

targets() { for f in Fuzz/targets/*.swift Fuzz/targets/*.c; do [ -e "$f" ] && basename "${f%.*}"; done | sort -u; }
header() { sed -n "s|^// $2: *||p" "$1" | head -1; }

# One -sanitize= list: given twice, swiftc keeps only the last, and the objects lose their coverage counters.
swiftpm_flags=(-Xswiftc -sanitize=fuzzer,address
               -Xcc -fsanitize=fuzzer-no-link,address -Xcxx -fsanitize=fuzzer-no-link,address)

build_swift() {
  local name=$1 src=Fuzz/targets/$1.swift
  local modules; modules=$(header "$src" fuzz-swiftpm-targets)
  [ -n "$modules" ] || { echo "fuzz: $src has no '// fuzz-swiftpm-targets:' line" >&2; return 1; }
  for m in $modules; do
    if ! swift build --build-path "$BUILD" --target "$m" "${swiftpm_flags[@]}" >"$BUILD/build-$m.log" 2>&1; then
      grep -E "error" "$BUILD/build-$m.log" | head -20 >&2
      echo "fuzz: building $m failed (log $BUILD/build-$m.log)" >&2
      return 1
    fi
  done
  # Every object built so far (the closure of the targets above; the per-module debug wrappers are skipped).
  local objects; objects=$(find "$BUILD/debug/" -path "$BUILD/debug/Modules" -prune -o -path '*.build/*.o' -print | sort)
  # Coverage counters must be in the library code, not only in the harness (libFuzzer is blind otherwise).
  local probe; probe=$(find "$BUILD/debug/$(echo "$modules" | awk '{print $1}').build" -name '*.swift.o' | sort | head -1)
  # grep reads all of nm's output (no -q): with pipefail, an early exit would fail the pipeline by nm's SIGPIPE.
  /opt/swift/usr/bin/llvm-nm "$probe" | grep __sanitizer_cov >/dev/null || { echo "fuzz: $probe has no coverage instrumentation" >&2; return 1; }
  local modulemaps; modulemaps=$(find "$BUILD/debug/" -maxdepth 2 -name module.modulemap -printf '-Xcc -fmodule-map-file=%p ')
  # shellcheck disable=SC2086
  swiftc -sanitize=fuzzer,address -use-ld=lld -parse-as-library -g -module-name "fuzz_$name" "$src" \
    -I "$BUILD/debug/Modules" $modulemaps $objects \
    -ltorch -ltorch_cpu -lc10 -lpng16 -ljpeg -lstdc++ -o "$BUILD/bin/fuzz-$name" 2>&1 | grep -v "Cannot export local symbol" || true
  [ -x "$BUILD/bin/fuzz-$name" ] && [ "$BUILD/bin/fuzz-$name" -nt "$src" ] || { echo "fuzz: linking fuzz-$name failed" >&2; return 1; }
}

build_c() {
  local name=$1 src=Fuzz/targets/$1.c
  local sources libs includes=""
  sources=$(header "$src" fuzz-c-sources); libs=$(header "$src" fuzz-c-libs)
  for s in $sources; do includes="$includes -I $(dirname "$s")/include"; done
  # shellcheck disable=SC2086
  clang -fsanitize=fuzzer,address -fuse-ld=lld -g -O1 $includes "$src" $sources $libs -o "$BUILD/bin/fuzz-$name"
}

build() {
  if [ -e "Fuzz/targets/$1.swift" ]; then build_swift "$1"; else build_c "$1"; fi
}

run() {
  local name=$1 seconds=$2
  mkdir -p "$BUILD/corpus/$name" "$BUILD/crashes/$name" "Fuzz/corpus/$name"
  local log="$BUILD/fuzz-$name.log"
  echo "fuzz: $name for ${seconds}s (log $log)"
  local rc=0
  ASAN_OPTIONS="detect_leaks=1:detect_container_overflow=0:allocator_may_return_null=1" \
    "$BUILD/bin/fuzz-$name" -max_total_time="$seconds" -rss_limit_mb=2560 -malloc_limit_mb=2048 -max_len=65536 \
    -timeout=20 -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$name/" \
    "$BUILD/corpus/$name" "Fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)" "$log" | tail -2 || true
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log" || true
  if [ $rc -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); crash input in $BUILD/crashes/$name/:" >&2
    grep -E "ERROR|Fatal error|SUMMARY|==ABORTING|deadly signal" "$log" | head -5 >&2 || true
    return 1
  fi
}

case "${1:-all}" in
  --list) targets; exit 0 ;;
  --build-only) for t in $(targets); do build "$t" || exit 1; echo "fuzz: built $BUILD/bin/fuzz-$t"; done; exit 0 ;;
  all) chosen=$(targets) ;;
  # The C harnesses build in seconds; `safetensors` needs only Torch built with the sanitizers (about 3 minutes
  # on 2 cores). The others pull in Media/FaceModel/Server and are left to full runs (docs/RELIABILITY.md).
  --smoke) chosen="png jpeg safetensors"; shift; set -- all "${1:-30}" ;;
  *) [ -e "Fuzz/targets/$1.swift" ] || [ -e "Fuzz/targets/$1.c" ] || { echo "fuzz: no target '$1' (targets: $(targets | tr '\n' ' '))" >&2; exit 2; }
     chosen=$1 ;;
esac
seconds=${2:-60}
failed=0
for t in $chosen; do
  build "$t" || { failed=1; continue; }
  run "$t" "$seconds" || failed=1
done
exit $failed

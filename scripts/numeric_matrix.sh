#!/usr/bin/env bash
# Runs the numeric test targets (parity with PyTorch references, goldens, training parity) under every kernel
# choice a machine can make: oneDNN capped at SSE4.1, AVX2 and AVX-512 (a cap above what the CPU has runs the
# widest it has), OpenBLAS's generic Haswell and Sandy Bridge kernels beside its own choice, and 1 and 2 threads.
# Float gates must hold in every cell (docs/RELIABILITY.md, "Numeric gates"): a cell that fails names a test that
# compares two code paths too tightly, not a CPU that is wrong.
#
#   bash scripts/numeric_matrix.sh            # the whole matrix (about 8 runs of the numeric targets)
#   bash scripts/numeric_matrix.sh --quick    # two cells: AVX2 / 1 thread, SSE4.1 / 2 threads
#   bash scripts/numeric_matrix.sh --ci       # one cell, SSE4.1 / Sandy Bridge / 2 threads (scripts/test.sh runs it)
# Builds first unless --skip-build. Logs go to .build/numeric-matrix/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH OMP_WAIT_POLICY=PASSIVE
quick=0; build=1
for a in "$@"; do
  case "$a" in --quick) quick=1 ;; --ci) quick=2 ;; --skip-build) build=0 ;; *) echo "usage: $0 [--quick|--ci] [--skip-build]" >&2; exit 2 ;; esac
done
[ "$build" = 1 ] && { swift build --build-tests || exit 1; }

# The targets whose tests compare floats against references or against another code path.
filter='^(TorchTests|DiffusionTests|FaceModelTests|TextEncoderTests|TGDMModelTests|MetricsTests|EvaluationTests|FaceAnalysisTests|Audio2ExpressionTests|MediaTests|SyntheticFacesTests)\.'

# CI's cell leaves out the slowest classes whose floats come from one code path or are behaviour (time, pairing,
# video I/O, training recipes): about 60 of its 115 s.
skip=()
[ "$quick" = 2 ] && skip=(--skip '(PairedEvaluatorTests|FaceMetricsTests|DistributedTests|VideoTests|TGDMEvaluatorTests|EmoA2ERecipeTests|IdentityBehaviourTests|EmoA2ETrainerTests)')

# isa blas threads
if [ "$quick" = 2 ]; then
  cells=("SSE41 Sandybridge 2")
elif [ "$quick" = 1 ]; then
  cells=("AVX2 default 1" "SSE41 Sandybridge 2")
else
  cells=("AVX2 default 1" "AVX2 default 2" "AVX512_CORE default 1" "AVX512_CORE default 2"
         "SSE41 default 1" "SSE41 Sandybridge 2" "AVX2 Haswell 2" "AVX Sandybridge 1")
fi
logs=.build/numeric-matrix; mkdir -p "$logs"
failed=()
for cell in "${cells[@]}"; do
  read -r isa blas threads <<<"$cell"
  name="${isa}-${blas}-${threads}t"
  env=(ONEDNN_MAX_CPU_ISA="$isa" DNNL_MAX_CPU_ISA="$isa" TGDM_THREADS="$threads" OMP_NUM_THREADS="$threads")
  [ "$blas" != default ] && env+=(OPENBLAS_CORETYPE="$blas")
  start=$(date +%s)
  if env "${env[@]}" swift test --skip-build --filter "$filter" "${skip[@]}" >"$logs/$name.log" 2>&1; then status=passed; else status=FAILED; failed+=("$name"); fi
  summary=$(grep -E "^\s*Executed [0-9]+ tests" "$logs/$name.log" | tail -1 | sed 's/^[[:space:]]*//')
  printf '%-26s %-6s %4ss  %s\n' "$name" "$status" "$(( $(date +%s) - start ))" "$summary"
  [ "$status" = FAILED ] && grep -E "error: |: error" "$logs/$name.log" | head -20
done
if [ ${#failed[@]} -gt 0 ]; then echo "numeric matrix: FAILED in ${failed[*]} (logs in $logs)"; exit 1; fi
echo "numeric matrix: every cell passed"

#!/usr/bin/env bash
# On the GPU machine, after tools/gpu/run.sh has built build-gpu: compute-sanitizer's memcheck,
# racecheck, synccheck and initcheck over the GPU tests (the *Cuda* gtest cases), one run per
# tool, with the caching allocator off (AFINAR_CUDA_NO_CACHING=1: every tensor its own exact-size
# cudaMalloc, so memcheck sees real bounds and uses after free). Logs under $OUT (or ./gpu-out),
# then one summary line per tool with its error count.
#   tools/gpu/sanitize.sh
#   TOOLS="memcheck racecheck" FILTER='BatchNorm2dCuda.*' tools/gpu/sanitize.sh
#   LIMIT=240 tools/gpu/sanitize.sh      seconds per tool (the device tool allows 10 minutes a call)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-gpu-out}
mkdir -p "$out"
bin=build-gpu/tests/afinar_tests
if [[ ! -x "$bin" ]]; then
  echo "no $bin: run tools/gpu/run.sh tests first"
  exit 1
fi
sanitizer=$(command -v compute-sanitizer || true)
if [[ -z "$sanitizer" ]]; then
  for candidate in /usr/local/cuda*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer; do
    if [[ -x "$candidate" ]]; then
      sanitizer=$candidate
      break
    fi
  done
fi
if [[ -z "$sanitizer" ]]; then
  echo "compute-sanitizer not found (PATH, /usr/local/cuda*/bin): install the CUDA toolkit's"
  echo "sanitizer on this machine to run this script"
  exit 1
fi

export AFINAR_CUDA_NO_CACHING=1
# shellcheck source=tools/openblas_env.sh
source tools/openblas_env.sh
status=0
for tool in ${TOOLS:-memcheck racecheck synccheck initcheck}; do
  extra=()
  [[ "$tool" == memcheck ]] && extra=(--leak-check full)
  log="$out/sanitize_$tool.log"
  timeout "${LIMIT:-300}" "$sanitizer" --tool "$tool" "${extra[@]}" --error-exitcode 99 \
    --print-limit 50 "$bin" --gtest_filter="${FILTER:-*Cuda*}" >"$log" 2>&1
  rc=$?
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1)
  tests=$(grep -E "^\[  (PASSED|FAILED)  \]" "$log" | head -2 | tr '\n' ' ')
  case $rc in
    0) verdict="clean" ;;
    99) verdict="ERRORS" ;;
    124) verdict="timed out after ${LIMIT:-300} s (narrow FILTER)" ;;
    *) verdict="exit $rc" ;;
  esac
  echo "$tool: $verdict; ${summary:-no summary}; ${tests:-no test summary} ($log)"
  [[ $rc -ne 0 ]] && status=1
done
exit $status

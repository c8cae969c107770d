#!/usr/bin/env bash
# On the GPU machine (the `device` tool): configure with CUDA on, build with every core, run the
# whole test suite (GPU tests included) and the benchmarks, write logs under $OUT (or ./gpu-out),
# and end with a summary table.
#   tools/gpu/run.sh                 build + tests + benchmarks
#   tools/gpu/run.sh tests           build + tests only
#   BENCH_FILTER=Relu tools/gpu/run.sh
#   WERROR=OFF tools/gpu/run.sh      the GPU machine's g++ 13 warns where CI's g++ 12 does not
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-gpu-out}
mkdir -p "$out"
what=${1:-all}
build=build-gpu

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nvcc --version | tail -1
} >"$out/device.txt" 2>&1

cmake -S . -B "$build" -G Ninja -DAFINAR_CUDA=ON -DAFINAR_CUDA_ARCHS=90 -DAFINAR_WERROR="${WERROR:-ON}" \
  >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
if ! cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1; then
  grep -E "error|FAILED" "$out/build.log" | head -40
  exit 1
fi

# shellcheck source=tools/openblas_env.sh
source tools/openblas_env.sh
# As users run it: deferred device checks and no synchronisation after each launch. Each test is
# its own process, so an asynchronous fault still names its test; rerun that one with
# AFINAR_CUDA_SYNC=1 to have it reported at the launch that caused it.
ctest --test-dir "$build" -j 4 --output-on-failure >"$out/tests.log" 2>&1
tests_rc=$?

bench_rc=0
if [[ "$what" == all && -x "$build/bench/afinar_bench" ]]; then
  "$build/bench/afinar_bench" --benchmark_filter="${BENCH_FILTER:-Cuda}" \
    --benchmark_out="$out/bench.json" --benchmark_out_format=json \
    >"$out/bench.txt" 2>&1
  bench_rc=$?
fi

echo "== device"; cat "$out/device.txt"
echo "== commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "== compiler warnings: $(grep -c 'warning:' "$out/build.log")"
echo "== failed or skipped tests"
grep -E "\*\*\*Failed|\*\*\*Skipped|Not Run|Timeout" "$out/tests.log" | head -40
grep -E "tests passed|tests failed" "$out/tests.log"
if [[ -f "$out/bench.txt" ]]; then echo "== benchmarks"; grep -vE "^(\*\*\*|Run on|CPU Caches|  L[123]|Load Average)" "$out/bench.txt" | tail -40; fi
exit $(( tests_rc || bench_rc ))

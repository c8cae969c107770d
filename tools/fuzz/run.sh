#!/usr/bin/env bash
# Fuzzes afinar's parsers with libFuzzer + AddressSanitizer + UBSan (fuzz/*_fuzz.cpp).
#
#   tools/fuzz/run.sh [TARGET|all] [SECONDS]      e.g. tools/fuzz/run.sh zip 120
#
# TARGET: zip, pickle, torch_file, weights, decode, recipe, or all (default; one after the other).
# SECONDS: time per target (default 60). Configures and builds build-fuzz (CC=clang CXX=clang++,
# AFINAR_FUZZ=ON, AFINAR_SANITIZE=address,undefined), then runs each target on a working copy of
# its seed corpus (tests/fuzz/<target>/ -> build-fuzz/corpus/<target>/; new inputs go there, the
# committed seeds are never touched). Crashing inputs land in build-fuzz/findings/<target>/
# (crash-*, leak-*, oom-*, timeout-*); the script exits 1 when a target found any.
#
# Limits: -rss_limit_mb=2048 and -malloc_limit_mb=1024, so a small input that asks for a huge
# allocation (a declared size never checked against the file) is reported as an "out-of-memory
# (malloc(N))" finding; -timeout=10 s per input; -max_len=65536 (the seeds are smaller).
#
# Long runs (hours, on a machine to spare): raise SECONDS and the parallelism, e.g.
#   FUZZ_JOBS=8 tools/fuzz/run.sh pickle 14400          # 4 h, 8 worker processes
# FUZZ_JOBS sets -jobs/-workers (default 1: CI machines and shared boxes have few cores). The
# working corpus in build-fuzz/corpus/ persists between runs, so successive runs resume; minimise
# it before copying interesting inputs back into tests/fuzz/<target>/ (keep it < 2 MB in all):
#   build-fuzz/fuzz/fuzz_zip -merge=1 /tmp/min build-fuzz/corpus/zip
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1" keeps fuzzing past
# crashes (each is still saved), for a target whose known crash is not ours to fix (weights:
# libhdf5's, tests/fuzz/unfixed/).
# Reproduce a finding: build-fuzz/fuzz/fuzz_zip build-fuzz/findings/zip/crash-<sha1>
# (or, without clang, the replay build: build/fuzz/fuzz_zip <file>). Fix it, add the input to
# tests/fuzz/<target>/ and a regression test to the parser's tests/ file.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets_all=(zip pickle torch_file weights decode recipe)
target=${1:-all}
seconds=${2:-60}
jobs=${FUZZ_JOBS:-1}

if [[ $target == all ]]; then
  targets=("${targets_all[@]}")
elif [[ " ${targets_all[*]} " == *" $target "* ]]; then
  targets=("$target")
else
  echo "run.sh: unknown target '$target'; one of: ${targets_all[*]} all" >&2
  exit 2
fi

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$root")}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAFINAR_CUDA=OFF -DAFINAR_FUZZ=ON -DAFINAR_SANITIZE=address,undefined \
  -DAFINAR_BUILD_TESTS=OFF -DAFINAR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "${FUZZ_BUILD_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

# Our own checks abort the input on any UBSan report; leaks are findings too, except libhdf5's own
# (fuzz/lsan_suppressions.txt says why). The file-based targets write each input to a temp file:
# in memory (/dev/shm) when there is one, for speed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan_suppressions.txt}
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  findings=$build/findings/$t
  mkdir -p "$corpus" "$findings"
  cp -n "$root/tests/fuzz/$t"/* "$corpus"/ 2>/dev/null || true
  log=$build/findings/$t.log
  echo "== $t: ${seconds}s, corpus $(ls "$corpus" | wc -l) files, log $log"
  parallel=()
  # -jobs=1 would still fork a worker writing fuzz-0.log; one job runs in this process instead.
  if ((jobs > 1)); then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  set +e
  "$build/fuzz/fuzz_$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -timeout=10 -max_len=65536 -print_final_stats=1 \
    "${parallel[@]}" ${FUZZ_ARGS:-} -artifact_prefix="$findings/" >"$log" 2>&1
  rc=$?
  set -e
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$log" | tail -3 || true
  n=$(find "$findings" -maxdepth 1 -type f | wc -l)
  echo "   exit $rc, findings in $findings: $n"
  if ((rc != 0 || n != 0)); then status=1; fi
done
exit $status

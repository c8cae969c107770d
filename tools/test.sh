#!/usr/bin/env bash
# The test command: installs dependencies, configures (warnings are errors), builds, checks the
# formatting and runs every test with ctest; then the sanitizer pass. Works on a fresh Debian 12
# machine; GPU tests skip themselves when no GPU is visible.
#   tools/test.sh                 build in ./build and run everything, then the sanitizer pass
#   SANITIZER_PASS=0 tools/test.sh                         without the sanitizer pass
#   BUILD_DIR=build-asan CMAKE_ARGS="-DAFINAR_SANITIZE=address,undefined -DAFINAR_CUDA=OFF" \
#     tools/test.sh               every test under the sanitizers, at -O3 (about 25 minutes on 2
#                                 cores), instead of the pass below
#
# The sanitizer pass builds the library, the CLI and the tests again (build-sanitize: no CUDA, no
# benchmarks) with AddressSanitizer, LeakSanitizer and UBSan at -O1 (a third of -O3's compile
# time with the sanitizers) and runs every CPU test under them except those in `slow` below: the
# end-to-end training runs and whole-model forwards: 47 of the 52 CPU-minutes that all the tests
# take there, going through parsers, ops, checkpoints and CLI commands that the others test.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
build_dir=${BUILD_DIR:-build}
# ccache keys on absolute paths unless told the root: a fresh clone elsewhere still hits.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
jobs=${JOBS:-$(nproc)}

# shellcheck disable=SC2086  # CMAKE_ARGS is a list of flags
cmake -S . -B "$build_dir" -G Ninja -DAFINAR_WERROR=ON ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"

tools/check-format.sh

# shellcheck source=tools/openblas_env.sh
source tools/openblas_env.sh
# The Python test tools tools/setup.sh installed (TensorBoard's reader), for /usr/bin/python3.
if [[ -d .python-test-tools ]]; then
  export PYTHONPATH="$PWD/.python-test-tools${PYTHONPATH:+:$PYTHONPATH}"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"

if [[ ${SANITIZER_PASS:-1} == 1 && ${CMAKE_ARGS:-} != *AFINAR_SANITIZE* ]]; then
  slow='^(CrashSafety|Demo|TrainCli|Strategies|StrategiesCli|TorchTrainingParity|ReportCli|Install'
  slow+='|Recipes/ShippedRecipe|Vgg|ResNet|Models)\.'
  san_dir=${SANITIZE_BUILD_DIR:-build-sanitize}
  cmake -S . -B "$san_dir" -G Ninja -DAFINAR_WERROR=ON -DAFINAR_CUDA=OFF -DAFINAR_BUILD_BENCH=OFF \
    -DAFINAR_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG"
  cmake --build "$san_dir" -j "$jobs"
  ctest --test-dir "$san_dir" --output-on-failure -j "$jobs" -E "$slow"
fi

#!/usr/bin/env bash
# The test command: installs dependencies, configures (warnings are errors), builds, checks the
# formatting and runs every test with ctest. Works on a fresh Debian 12 machine; GPU tests skip
# themselves when no GPU is visible.
#   tools/test.sh                 build in ./build and run everything
#   BUILD_DIR=build-asan CMAKE_ARGS="-DAFINAR_SANITIZE=address,undefined" tools/test.sh
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
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"

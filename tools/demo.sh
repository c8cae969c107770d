#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing (tools/setup.sh: the build
# dependencies and Debian's dataset-fashion-mnist), builds the afinar executable and runs the
# built-in transfer-learning demo (`afinar demo`: pre-train a ResNet18 on Fashion-MNIST classes
# 0-4, then compare four strategies on classes 5-9). Uses the GPU when one is visible.
#   tools/demo.sh                       runs/demo/report.html and the strategy table
#   tools/demo.sh --epochs 12 --device cpu      (arguments go to afinar demo; see --help)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
build_dir=${BUILD_DIR:-build}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of flags
cmake -S . -B "$build_dir" -G Ninja ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target afinar_cli

# shellcheck source=tools/openblas_env.sh
source tools/openblas_env.sh
exec "$build_dir/afinar" demo "$@"

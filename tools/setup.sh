#!/usr/bin/env bash
# Installs afinar's build and test dependencies from Debian's packages, and the Python test tools
# of tools/python_test_tools.txt from PyPI. Idempotent: packages already present are skipped,
# apt-get runs only when something is missing, pip only when the list changed.
#   tools/setup.sh            build + test dependencies
#   tools/setup.sh --goldens  also PyTorch, torchvision and PIL to regenerate goldens
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config ccache clang-format
          libopenblas-dev libhdf5-dev libstb-dev libturbojpeg0-dev zlib1g-dev
          libgtest-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev dataset-fashion-mnist
          python3-pip)
if [[ "${1:-}" == "--goldens" ]]; then
  packages+=(python3-torch python3-torchvision python3-pil python3-h5py python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
else
  echo "setup: all dependencies present"
fi

# The Python test tools, pinned, without their dependencies (Debian's numpy stays the one torch
# was built against), into .python-test-tools/ beside this folder. Without PyPI (no network) the
# tests that need them skip, saying why; the build and every other test go on.
root=$(cd "$(dirname "$0")/.." && pwd)
tools_dir="$root/.python-test-tools"
if ! cmp -s "$root/tools/python_test_tools.txt" "$tools_dir/.installed-from" 2>/dev/null; then
  rm -rf "$tools_dir"
  if /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --no-deps --target "$tools_dir" -r "$root/tools/python_test_tools.txt"; then
    cp "$root/tools/python_test_tools.txt" "$tools_dir/.installed-from"
    echo "setup: Python test tools installed in $tools_dir"
  else
    rm -rf "$tools_dir"
    echo "setup: warning: could not install tools/python_test_tools.txt from PyPI; the tests" \
      "that read files with TensorBoard's own reader will skip"
  fi
fi

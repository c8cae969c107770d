#!/usr/bin/env bash
# Installs afinar's build and test dependencies from Debian's packages. Idempotent: packages
# already present are skipped, and apt-get runs only when something is missing.
#   tools/setup.sh            build + test dependencies
#   tools/setup.sh --goldens  also PyTorch, torchvision and PIL to regenerate goldens
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config ccache clang-format
          libopenblas-dev libhdf5-dev libstb-dev libturbojpeg0-dev zlib1g-dev
          libgtest-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev dataset-fashion-mnist)
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

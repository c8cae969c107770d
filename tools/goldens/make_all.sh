#!/usr/bin/env bash
# Regenerates every golden file in tests/data/goldens/ with PyTorch (CPU). Needs python3-torch
# and python3-h5py from Debian (tools/setup.sh --goldens); uses the system python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
for script in tools/goldens/[a-z]*.py; do
  [[ "$(basename "$script")" == common.py ]] && continue
  /usr/bin/python3 "$script"
done

#!/usr/bin/env bash
# Fails when a C++/CUDA source is not formatted as .clang-format says (tools/format.sh fixes it).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh')
if clang-format --dry-run --Werror "${files[@]}" 2>/tmp/afinar-format.log; then
  echo "format: ${#files[@]} files ok"
else
  grep -E '^[^ ].*(error|warning)' /tmp/afinar-format.log | cut -d: -f1 | sort -u | sed 's/^/format: needs tools\/format.sh: /'
  exit 1
fi

#!/usr/bin/env bash
# Fails (listing the files) when a C++ source differs from .clang-format; CI runs it through `make check`.
#   scripts/check-format.sh          check every tracked .h/.cpp under src, include, tools, tests and bench
#   scripts/check-format.sh --fix    rewrite them in place instead
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
for arg in "$@"; do
  case "$arg" in
    --fix) fix=1 ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-format.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
command -v clang-format >/dev/null || { echo "check-format.sh: clang-format is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- 'src/*.h' 'src/*.cpp' 'include/*.h' 'tools/*.h' 'tools/*.cpp' \
                                      'tests/*.h' 'tests/*.cpp' 'bench/*.h' 'bench/*.cpp')
else
  mapfile -t files < <(find src include tools tests bench -name '*.h' -o -name '*.cpp' | sort)
fi
if [[ $fix -eq 1 ]]; then clang-format -i "${files[@]}"; exit 0; fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
  printf '%s\n' "${bad[@]}" >&2
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format ($(clang-format --version | grep -o 'version [0-9.]*')); scripts/check-format.sh --fix rewrites them" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files follow .clang-format"

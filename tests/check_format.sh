#!/usr/bin/env bash
# Fails when a C++ file is not clang-formatted.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
bad=0
for f in $(find src bench tests -name '*.cpp' -o -name '*.hpp' | sort); do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=1; }
done
exit $bad

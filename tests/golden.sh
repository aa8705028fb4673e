#!/usr/bin/env bash
# Golden test: runs a command, compares its stdout with a file under tests/golden/ and its exit
# status with the expected one. ACME_UPDATE_GOLDEN=1 rewrites the golden file instead.
# usage: golden.sh GOLDEN_FILE EXPECTED_EXIT COMMAND [ARGS...]
set -uo pipefail
golden="$1"
expected_exit="$2"
shift 2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$@" >"$actual"
status=$?
if [ "${ACME_UPDATE_GOLDEN:-0}" = "1" ]; then
    mkdir -p "$(dirname "$golden")"
    cp "$actual" "$golden"
    echo "updated $golden"
fi
if [ "$status" != "$expected_exit" ]; then
    echo "exit status $status, expected $expected_exit: $*"
    exit 1
fi
if ! diff -u "$golden" "$actual"; then
    echo "output differs from $golden (ACME_UPDATE_GOLDEN=1 to accept)"
    exit 1
fi

#!/usr/bin/env bash
# `acme catalog check --format sarif` output validated against the SARIF 2.1.0 JSON schema
# (tests/sarif_validate.mjs), on a catalog with findings of every severity and on our own.
# Skipped (77) when Node or the validator's packages are not installed.
# usage: sarif_check.sh ACME_BINARY
set -uo pipefail
cd "$(dirname "$0")/.."
acme="$1"
if ! command -v node >/dev/null || [ ! -d tools/node_modules/@microsoft/jest-sarif ] ||
    [ ! -d tools/node_modules/ajv-draft-04 ]; then
    echo "node or the SARIF schema packages not installed: skipped"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$acme" catalog check tests/fixtures/broken-catalog --format sarif >"$work/broken.sarif"
[ $? -eq 1 ] || { echo "expected exit status 1 on the broken catalog"; exit 1; }
"$acme" catalog check catalog --format sarif >"$work/own.sarif" || exit 1
node tests/sarif_validate.mjs "$work/broken.sarif" "$work/own.sarif"

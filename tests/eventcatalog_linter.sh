#!/usr/bin/env bash
# Runs EventCatalog's own linter on catalog/ when Node and the linter are installed
# (scripts/test.sh installs it from npm into tools/); skipped (77) otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
linter=tools/node_modules/.bin/eventcatalog-linter
if ! command -v node >/dev/null || [ ! -x "$linter" ]; then
    echo "node or @eventcatalog/linter not installed: skipped"
    exit 77
fi
"$linter" "${1:-catalog}"

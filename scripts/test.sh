#!/usr/bin/env bash
# Quick start, second command: installs what is needed, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# EventCatalog's own linter, for the compatibility test and the benchmark (npm registry).
if command -v npm >/dev/null 2>&1 && [ ! -x tools/node_modules/.bin/eventcatalog-linter ]; then
    (cd tools && npm ci --no-audit --no-fund --loglevel=error) || echo "npm install failed: the EventCatalog linter test will be skipped"
fi
scripts/build.sh
build_dir="${ACME_BUILD_DIR:-build}"
ctest --test-dir "$build_dir" --output-on-failure -j "${ACME_JOBS:-2}"

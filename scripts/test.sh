#!/usr/bin/env bash
# Quick start, second command: installs what is needed, builds, and runs every test.
# First a ThreadSanitizer pass over the threaded code (bus, saga runtime, HTTP), then the
# whole suite; the last summary printed is the whole suite's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# EventCatalog's own linter, for the compatibility test and the benchmark (npm registry).
if command -v npm >/dev/null 2>&1 && [ ! -x tools/node_modules/.bin/eventcatalog-linter ]; then
    (cd tools && npm ci --no-audit --no-fund --loglevel=error) || echo "npm install failed: the EventCatalog linter test will be skipped"
fi
jobs="${ACME_JOBS:-2}"
if [ "${ACME_SKIP_TSAN:-0}" != "1" ]; then
    echo "== ThreadSanitizer: storage, thread pool, bus, saga runtime and HTTP tests"
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACME_TSAN=ON \
        -DACME_WERROR=ON >/dev/null
    cmake --build build-tsan -j "$jobs" --target acme_messaging_test acme_runtime_test acme_http_test \
        acme_storage_test acme_core_test
    TSAN_OPTIONS="halt_on_error=1" ctest --test-dir build-tsan --output-on-failure -j "$jobs" \
        -R '^(BusTest|SystemTest|HttpApiTest|CheckoutSagaTest|SqliteTest|TaskPoolTest)\.'
fi
echo "== build and the whole suite"
scripts/build.sh
build_dir="${ACME_BUILD_DIR:-build}"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"

#!/usr/bin/env bash
# Quick start, second command: installs what is needed, builds, and runs every test.
# First a ThreadSanitizer pass over the threaded code (bus, saga runtime, HTTP), then an
# AddressSanitizer + UBSan pass over the catalog engine (its tests, the golden outputs and the
# hostile catalog corpus), then the whole suite; the last summary printed is the whole suite's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Test tools from the npm registry (tools/package.json): EventCatalog's own linter, for the
# compatibility test and the benchmark; @redocly/cli and @asyncapi/parser for the API documents.
if command -v npm >/dev/null 2>&1 && { [ ! -x tools/node_modules/.bin/eventcatalog-linter ] ||
    [ ! -x tools/node_modules/.bin/redocly ] || [ ! -d tools/node_modules/@asyncapi/parser ]; }; then
    (cd tools && npm ci --no-audit --no-fund --loglevel=error) || echo "npm install failed: the tests that need these tools will be skipped"
fi
jobs="${ACME_JOBS:-2}"
if [ "${ACME_SKIP_TSAN:-0}" != "1" ]; then
    echo "== ThreadSanitizer: storage, thread pool, tree walk, bus, saga runtime and HTTP tests"
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACME_TSAN=ON \
        -DACME_WERROR=ON >/dev/null
    cmake --build build-tsan -j "$jobs" --target acme_messaging_test acme_runtime_test acme_http_test \
        acme_storage_test acme_core_test
    TSAN_OPTIONS="halt_on_error=1" ctest --test-dir build-tsan --output-on-failure -j "$jobs" \
        -R '^(BusTest|HttpApiTest|CheckoutSagaTest|SqliteTest|Backends/ConnectionTest|Backends/SystemTest|PostgresTest|TaskPoolTest|WalkTreeTest)\.'
fi
if [ "${ACME_SKIP_ASAN:-0}" != "1" ]; then
    echo "== AddressSanitizer + UBSan: the catalog engine's tests and the hostile catalog corpus"
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACME_SANITIZE=ON \
        -DACME_WERROR=ON >/dev/null
    cmake --build build-asan -j "$jobs" --target acme_catalog_test acme_catalog_hostile_test \
        acme_repo_catalog_test acme_core_test
    for t in src/catalog/acme_catalog_test src/catalog/acme_catalog_hostile_test \
        tests/acme_repo_catalog_test src/core/acme_core_test; do
        ACME_SOURCE_DIR="$PWD" ASAN_OPTIONS="detect_leaks=1" \
            LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
            UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
            "build-asan/$t" --gtest_brief=1
    done
fi
echo "== build and the whole suite"
scripts/build.sh
build_dir="${ACME_BUILD_DIR:-build}"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"

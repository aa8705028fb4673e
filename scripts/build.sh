#!/usr/bin/env bash
# Configures and builds Acme into ${ACME_BUILD_DIR:-build} (Ninja, RelWithDebInfo, -j2).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${ACME_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${ACME_BUILD_TYPE:-RelWithDebInfo}" \
    -DACME_WERROR="${ACME_WERROR:-ON}" ${ACME_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "${ACME_JOBS:-2}"

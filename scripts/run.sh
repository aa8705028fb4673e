#!/usr/bin/env bash
# Quick start, first command: installs what is needed, builds, and runs the main job:
# `acme serve`, every service of the order system in one process (SQLite under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir="${ACME_BUILD_DIR:-build}"
"$build_dir/src/cli/acme" catalog check catalog/ >/dev/null || {
    echo "catalog/ has lint errors: $build_dir/src/cli/acme catalog check catalog/" >&2
    exit 1
}
exec "$build_dir/src/cli/acme" serve --data "${ACME_DATA:-data}" --listen "${ACME_LISTEN:-127.0.0.1:8080}"

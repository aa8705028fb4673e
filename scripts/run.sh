#!/usr/bin/env bash
# Quick start, first command: installs what is needed, builds, and runs the main job.
# Until the running system lands, the main job is the catalog linter on Acme's own catalog.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir="${ACME_BUILD_DIR:-build}"
echo "== acme catalog check catalog/"
"$build_dir/src/cli/acme" catalog check catalog/
echo "== the catalog's graph: $build_dir/catalog.svg"
"$build_dir/src/cli/acme" catalog graph catalog/ --format svg -o "$build_dir/catalog.svg"

#!/usr/bin/env bash
# Installs everything Acme needs to build and test, from Debian's packages (promtool from
# prometheus and strace are for tests only; the postgresql server runs the scale-out mode and
# its tests, started by scripts/pg.sh, never as a system service); and the npm
# registry for EventCatalog's own linter, used by one optional test and the benchmark).
set -euo pipefail

packages=(
    build-essential cmake ninja-build ccache pkg-config git
    libgtest-dev libgmock-dev
    nlohmann-json3-dev libvalijson-dev libyaml-dev libyaml-cpp-dev libcli11-dev
    libgraphviz-dev graphviz
    libboost1.81-dev libsqlite3-dev sqlite3 libjemalloc-dev curl
    libpq-dev postgresql
    time clang-format
    prometheus strace
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

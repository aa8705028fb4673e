#!/usr/bin/env bash
# Fails when a file includes a subsystem its CMake target does not depend on.
# The allowed dependencies mirror the target_link_libraries in each src/<subsystem>/CMakeLists.txt.
set -uo pipefail
cd "$(dirname "$0")/../src"
declare -A allowed=(
    [core]="core"
    [catalog]="catalog core"
    [storage]="storage core"
    [messaging]="messaging catalog storage core"
    [saga]="saga catalog messaging storage core"
    [shopping]="shopping messaging storage core"
    [ordering]="ordering saga catalog messaging storage core"
    [payments]="payments messaging storage core"
    [fulfilment]="fulfilment messaging storage core"
    [runtime]="runtime shopping ordering payments fulfilment saga catalog messaging storage core"
    [http]="http runtime shopping ordering payments fulfilment saga catalog messaging storage core"
    [cli]="cli http runtime shopping ordering payments fulfilment saga catalog messaging storage core"
)
status=0
for dir in */; do
    sub="${dir%/}"
    if [ -z "${allowed[$sub]+x}" ]; then
        echo "src/$sub: no include rule in tests/check_includes.sh"
        status=1
        continue
    fi
    while IFS=: read -r file line inc; do
        target=$(echo "$inc" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
        if ! [[ " ${allowed[$sub]} " == *" $target "* ]]; then
            echo "src/$file:$line: $sub may not include $target (allowed: ${allowed[$sub]})"
            status=1
        fi
    done < <(grep -nE '^#include "[a-z_]+/' -r "$sub" --include='*.cpp' --include='*.hpp' | sed -E 's/^([^:]+):([0-9]+):/\1:\2:/')
done
[ $status -eq 0 ] && echo "includes follow the subsystem dependencies"
exit $status

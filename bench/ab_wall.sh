#!/usr/bin/env bash
# Interleaved wall time of acme binaries on one command (A, B, A, B, ...): on a machine whose
# speed drifts, only runs taken side by side compare. Prints each binary's times, sorted.
#   bench/ab_wall.sh RUNS "ACME ARGS" BINARY...
#   e.g. bench/ab_wall.sh 7 "catalog check /tmp/cat10k" /tmp/acme-before build/src/cli/acme
set -euo pipefail
runs=$1
args=$2
shift 2
for ((i = 1; i <= runs; i++)); do
    for bin in "$@"; do
        start=$EPOCHREALTIME
        # shellcheck disable=SC2086
        "$bin" $args >/dev/null 2>&1 || true
        end=$EPOCHREALTIME
        awk -v b="$bin" -v s="$start" -v e="$end" 'BEGIN { printf "%s %.3f\n", b, e - s }'
    done
done | sort -k1,1 -k2,2g | awk '{t[$1] = t[$1] " " $2} END {for (b in t) printf "%s:%s\n", b, t[b]}'

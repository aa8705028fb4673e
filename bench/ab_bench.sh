#!/usr/bin/env bash
# Interleaved comparison of acme binaries (A, B, A, B, ...): on a machine whose speed drifts,
# only runs taken side by side compare. For each binary: throughput of every run, and the mean
# CPU per checkout of the process and of the dispatcher thread (printed by `acme bench`).
#   bench/ab_bench.sh RUNS "BENCH ARGS" BINARY...
#   e.g. bench/ab_bench.sh 3 "--checkouts 8000 --concurrency 64" /tmp/acme-before build/src/cli/acme
# Run from the repository root (acme reads catalog/).
set -euo pipefail
runs=$1
args=$2
shift 2
for ((i = 1; i <= runs; i++)); do
    for bin in "$@"; do
        # shellcheck disable=SC2086
        out=$("$bin" bench $args 2>&1)
        tput=$(sed -n 's/^throughput.*: \([0-9]*\) checkouts.*/\1/p' <<<"$out")
        disp=$(sed -n 's/^CPU per checkout.*acme-dispatch \([0-9]*\) us.*/\1/p' <<<"$out")
        proc=$(sed -n 's/^CPU per checkout.*process \([0-9]*\) us.*/\1/p' <<<"$out")
        echo "$bin ${tput:-0} ${disp:-0} ${proc:-0}"
    done
done | awk '{t[$1] = t[$1] " " $2; d[$1] += $3; p[$1] += $4; n[$1]++}
    END {for (b in t) printf "%s\n  checkouts/s:%s\n  CPU per checkout: process %.0f us, dispatcher %.0f us\n", b, t[b], p[b] / n[b], d[b] / n[b]}'

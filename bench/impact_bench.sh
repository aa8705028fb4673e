#!/usr/bin/env bash
# Impact query benchmark: one `acme impact` (load included) on a synthetic catalog, for a
# service, a message and a domain. Prints a Markdown table (median of RUNS runs, default 5).
#   bench/impact_bench.sh [BUILD_DIR] [RESOURCES]     (defaults: build 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
n="${2:-10000}"
runs="${RUNS:-5}"
acme="$build/src/cli/acme"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bench/acme-gen-catalog" --resources "$n" --out "$work/cat" >/dev/null
echo "| query ($n resources) | wall time | peak RSS | checklist lines |"
echo "|---|---:|---:|---:|"
for spec in service:service-0 event:event-10 domain:domain-3; do
    times=()
    mems=()
    for _ in $(seq "$runs"); do
        start=$EPOCHREALTIME
        /usr/bin/time -f "%M" -o "$work/time" "$acme" impact --catalog "$work/cat" "$spec" >"$work/out.md"
        end=$EPOCHREALTIME
        times+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')")
        mems+=("$(cat "$work/time")")
    done
    mid=$(( runs / 2 + 1 ))
    t=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "${mid}p")
    m=$(printf '%s\n' "${mems[@]}" | sort -g | sed -n "${mid}p")
    printf '| `acme impact %s` | %s s | %d MiB | %d |\n' "$spec" "$t" $((m / 1024)) "$(wc -l <"$work/out.md")"
done

#!/usr/bin/env bash
# Catalog engine benchmark: load + check wall time and peak memory of `acme catalog check`
# against EventCatalog's own linter (@eventcatalog/linter, from tools/) on the same synthetic
# catalogs, in the same run. Prints a Markdown table.
#
#   bench/catalog_bench.sh [BUILD_DIR] [SIZES...]     (defaults: build 1000 10000)
#
# Each figure is the median of RUNS runs (default 5) for both tools; wall time from bash's
# EPOCHREALTIME around the process, peak RSS from GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
runs="${RUNS:-5}"
acme="$build/src/cli/acme"
gen="$build/bench/acme-gen-catalog"
eclint=tools/node_modules/.bin/eventcatalog-linter
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure CMD...: runs CMD $runs times; sets med_s (seconds) and med_kib (peak RSS)
measure() {
    local times=() mems=()
    for _ in $(seq "$runs"); do
        local start=$EPOCHREALTIME
        /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>&1 || true
        local end=$EPOCHREALTIME
        read -r m <"$work/time"
        times+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')")
        mems+=("$m")
    done
    local mid=$(( runs / 2 ))
    med_s=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$((mid + 1))p")
    med_kib=$(printf '%s\n' "${mems[@]}" | sort -g | sed -n "$((mid + 1))p")
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "acme: $($acme --version); EventCatalog linter: $([ -x "$eclint" ] && node -e "console.log(require('./tools/node_modules/@eventcatalog/linter/package.json').version)" || echo 'not installed'); node $(node --version 2>/dev/null || echo -)"
echo "median of $runs runs each"
echo
echo "| resources | acme check | acme peak RSS | EventCatalog linter | its peak RSS | speed-up |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
    dir="$work/cat$n"
    "$gen" --resources "$n" --out "$dir" >/dev/null
    # Both must agree the catalog is clean before timing means anything.
    "$acme" catalog check "$dir" >/dev/null
    measure "$acme" catalog check "$dir"
    a_s=$med_s a_kib=$med_kib
    if [ -x "$eclint" ]; then
        "$eclint" "$dir" >/dev/null 2>&1
        measure "$eclint" "$dir"
        e_s=$med_s e_kib=$med_kib
        speedup=$(awk -v a="$a_s" -v e="$e_s" 'BEGIN { if (a > 0) printf "%.0fx", e / a; else print "n/a" }')
        printf '| %s | %s s | %d MiB | %s s | %d MiB | %s |\n' "$n" "$a_s" $((a_kib / 1024)) "$e_s" $((e_kib / 1024)) "$speedup"
    else
        printf '| %s | %s s | %d MiB | not installed | - | - |\n' "$n" "$a_s" $((a_kib / 1024))
    fi
done

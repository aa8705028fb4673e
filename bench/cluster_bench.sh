#!/usr/bin/env bash
# The scale-out mode's throughput: for each instance count, a fresh cluster
# (scripts/cluster.sh: PostgreSQL + one acme serve per service and instance, fsync and
# synchronous_commit on) driven by `acme bench` over every cart-api instance at a fixed
# offered rate; then, on the same server, pgbench's simple-update (-N, 8 clients) as the
# ceiling of durable transactions here.
#
#   bench/cluster_bench.sh [BUILD_DIR] [CHECKOUTS] [RATE] [INSTANCES...]
#       (defaults: build 3000 400 1 2 4)
#   NO_ROLES=1 bench/cluster_bench.sh ...   every process as the owner (cluster.sh --no-roles),
#       to compare with least privilege, the default
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
checkouts="${2:-3000}"
rate="${3:-400}"
shift 3 2>/dev/null || shift $#
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
acme="$PWD/$build/src/cli/acme"
dir="$(mktemp -d /tmp/acme-cluster-bench.XXXXXX)"
trap 'ACME_BIN="$acme" scripts/cluster.sh down --dir "$dir/c" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for n in "${counts[@]}"; do
    ACME_BIN="$acme" scripts/cluster.sh down --dir "$dir/c" >/dev/null 2>&1 || true
    rm -rf "$dir/c"
    ACME_BIN="$acme" scripts/cluster.sh up --instances "$n" --dir "$dir/c" ${NO_ROLES:+--no-roles} -- \
        --initial-stock 10000000 --stage-ms 3600000 >"$dir/up"
    db="$(grep '^db=' "$dir/up" | cut -d= -f2-)"
    urls="$(grep '^http=' "$dir/up" | cut -d= -f2- | paste -sd,)"
    echo "== $n instance(s) of each service ($(ACME_BIN="$acme" scripts/cluster.sh ps --dir "$dir/c" | wc -l) processes), $checkouts checkouts offered at $rate/s"
    "$acme" bench --url "$urls" --db "$db" --checkouts "$checkouts" --rate "$rate" \
        --concurrency 32 --timeout 300 2>&1 |
        grep -E '^(accepted [0-9]|POST|orders created|throughput|accepted ->|database commits)' || true
done
pgbench="$(ls /usr/lib/postgresql/*/bin/pgbench | head -1)"
"$pgbench" -i -q "$db" >/dev/null 2>&1
echo "== pgbench -N -c 8 -j 2 -T 15 on the same server"
"$pgbench" -N -c 8 -j 2 -T 15 "$db" 2>&1 | grep -E "^tps|latency average"

#!/usr/bin/env bash
# Crash test: `kill -9` of `acme serve` at random moments while a load of checkouts runs,
# restart on the same data, and check that every accepted checkout reaches its end and
# `acme audit` is clean. The load generator retries each call with the same Idempotency-Key
# until the server answers, so a checkout accepted before a crash is never placed twice.
#   crash_test.sh ACME [CHECKOUTS] [KILLS]
set -uo pipefail
acme="$1"
checkouts="${2:-400}"
kills="${3:-4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
# Below the ephemeral range (32768+): while the server is down, a client reconnecting to a
# port in that range can be handed the same port as its own and connect to itself.
port=$((20000 + RANDOM % 12000))
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && { kill -9 "$server_pid"; wait "$server_pid"; } 2>/dev/null
    [ -n "${bench_pid:-}" ] && kill "$bench_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
start_server() {
    "$acme" serve --data "$work/data" --listen "127.0.0.1:$port" --catalog "$root/catalog" \
        --stage-ms 50 >>"$work/serve.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server did not come up"; cat "$work/serve.log"; exit 1
}
start_server
"$acme" bench --url "http://127.0.0.1:$port" --checkouts "$checkouts" --concurrency 8 \
    --data "$work/data" --no-wait >"$work/bench.log" 2>&1 &
bench_pid=$!
for k in $(seq "$kills"); do
    sleep "0.$((1 + RANDOM % 5))"
    kill -9 "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    echo "kill -9 #$k at $(grep -c '' "$work/serve.log") log lines"
    start_server
done
wait "$bench_pid"
bench_status=$?
bench_pid=""
grep "answered" "$work/bench.log"
tail -4 "$work/bench.log"
accepted=$(sed -n 's/^accepted \([0-9]*\) checkouts.*/\1/p' "$work/bench.log")
if [ "$bench_status" != 0 ] || [ "$accepted" != "$checkouts" ]; then
    echo "FAIL: the load generator placed ${accepted:-0}/$checkouts checkouts (status $bench_status)"
    exit 1
fi
# Every saga must end; then the invariants must hold with nothing in flight.
for _ in $(seq 600); do
    "$acme" audit --data "$work/data" >"$work/audit.log" 2>&1 && break
    sleep 0.1
done
cat "$work/audit.log"
sagas=$(sqlite3 "$work/data/acme.sqlite" "SELECT count(*) FROM ord_sagas WHERE state IN ('completed','rejected')")
keys=$(sqlite3 "$work/data/acme.sqlite" "SELECT count(*) FROM shop_checkout_keys")
retried=$(sed -n 's/.* \([0-9]*\) retried calls/\1/p' "$work/bench.log")
echo "checkouts accepted $accepted, idempotency keys $keys, sagas ended $sagas, calls retried across crashes $retried"
grep -q "audit clean" "$work/audit.log" || { echo "FAIL: audit"; exit 1; }
[ "$sagas" = "$checkouts" ] && [ "$keys" = "$checkouts" ] || { echo "FAIL: counts"; exit 1; }
echo "crash test passed: $kills kills, $checkouts checkouts, audit clean"

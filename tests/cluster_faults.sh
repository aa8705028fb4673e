#!/usr/bin/env bash
# Faults in the scale-out mode, with real processes (scripts/cluster.sh: PostgreSQL and every
# service as its own `acme serve`, two instances each). Each case puts checkouts through the
# HTTP instances while something breaks, then demands: every accepted checkout reached an
# outcome (acme bench exits non-zero otherwise), `acme audit --db` is clean with nothing in
# flight, and no checkout was charged twice.
#   1. kill -9 one of two checkout-orchestrator instances under load;
#   2. SIGSTOP an inventory-service instance past its lease, then SIGCONT;
#   3. PostgreSQL restarted under load, fast and then immediate shutdown;
#   4. a payment worker killed between the gateway's answer and recording it (the other
#      instance calls again with the same idempotency key and gets the first answer);
#   5. an instance started while PostgreSQL is down waits for it (--db-wait), then runs.
# (Several processes migrating one fresh database at once: every `up` does that.)
#
#   tests/cluster_faults.sh ACME_BIN
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
acme="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || {
    echo "PostgreSQL is not installed (apt-get install postgresql): skipped"
    exit 77
}
work="$(mktemp -d /tmp/acme-faults.XXXXXX)"
cluster() {
    local cmd="$1"
    shift
    ACME_BIN="$acme" "$root/scripts/cluster.sh" "$cmd" --dir "$work/c" "$@"
}
# ACME_KEEP_FAULTS=1 keeps the folder (logs, the stopped server's data) for a look afterwards.
trap 'cluster down >/dev/null 2>&1 || true; [ -n "${ACME_KEEP_FAULTS:-}" ] || rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    tail -n 5 "$work"/c/logs/*.log >&2 || true
    exit 1
}

# A short lease and claim, so that taking over from a lost instance fits in a test.
cluster up --instances 2 -- --lease-ms 2000 --payment-claim-ms 2000 --initial-stock 100000 \
    >"$work/up"
db="$(grep '^db=' "$work/up" | cut -d= -f2-)"
urls="$(grep '^http=' "$work/up" | cut -d= -f2- | paste -sd,)"
echo "cluster: $(cluster ps | wc -l) processes, $db"

# Least privilege (cluster.sh's default): every acme connection is its group's login, none the
# owner's, and the HTTP front's login is refused a table it has no business with.
owners="$(psql -X -q -tA "$db" -c "SELECT count(*) FROM pg_stat_activity WHERE \
    application_name = 'acme' AND usename NOT LIKE 'acme\_%\_login'")"
[ "$owners" = 0 ] || fail "$owners acme connections are not a service group's login"
front="${db/\/\/postgres@///acme_cart_api_login@}"
if psql -X -q -tA "$front" -c "SET ROLE acme_cart_api; SELECT count(*) FROM pay_payments" \
    >"$work/denied" 2>&1; then
    fail "cart-api's login read pay_payments"
fi
grep -q 'permission denied for table pay_payments' "$work/denied" || {
    cat "$work/denied" >&2
    fail "cart-api's login was refused pay_payments, but not for want of a privilege"
}
echo "ok: every process connects as its group's login; cart-api's role may not read payments"

# bench N RATE: N checkouts at RATE/s, waiting until every one has its outcome.
bench() {
    "$acme" bench --url "$urls" --db "$db" --checkouts "$1" --rate "$2" --concurrency 16 \
        --timeout 120 >"$work/bench.log" 2>&1 || {
        cat "$work/bench.log" >&2
        fail "acme bench: checkouts lost, failed or still in flight"
    }
    grep -E '^(accepted [0-9]|orders created)' "$work/bench.log"
}

audit() {
    # Every checkout is decided, but what follows a decision may still be on its way (the
    # release of a reservation that came after the saga gave up): wait until the queues
    # are empty, at most a minute, then demand the invariants.
    local waiting
    for _ in $(seq 1 120); do
        waiting="$(psql -X -q -tA "$db" -c "SELECT count(*) FROM bus_deliveries")"
        [ "$waiting" = 0 ] && break
        sleep 0.5
    done
    [ "$waiting" = 0 ] || echo "still $waiting deliveries waiting after a minute"
    "$acme" audit --db "$db" >"$work/audit.log" 2>&1 || {
        cat "$work/audit.log" >&2
        fail "audit after: $1"
    }
    # One gateway charge per payment, and each recorded answer is the gateway's first.
    local twice
    twice="$(psql -X -q -tA "$db" -c "SELECT count(*) FROM pay_payments p JOIN gw_ledger g ON \
        g.idempotency_key = 'authorize:' || p.checkout_id WHERE p.authorization_id IS NOT NULL \
        AND p.authorization_id <> g.reference")"
    [ "$twice" = 0 ] || fail "$1: $twice payments recorded another answer than the gateway's"
    echo "ok: $1 (audit clean)"
}

echo "== 1. kill -9 one of two orchestrators under load"
bench 600 150 &
pid=$!
sleep 1.5
cluster kill checkout-orchestrator 2 KILL
wait "$pid" || fail "orchestrator killed"
audit "an orchestrator killed under load"
cluster start checkout-orchestrator 2 >/dev/null

echo "== 2. SIGSTOP an inventory instance past its lease, then SIGCONT"
bench 600 150 &
pid=$!
sleep 1
cluster kill inventory-service 1 STOP
sleep 4 # twice the lease: its claims go back, its session is ended by the server
cluster kill inventory-service 1 CONT
wait "$pid" || fail "inventory stopped"
audit "an inventory instance stopped past its lease"

for mode in fast immediate; do
    echo "== 3. PostgreSQL restarted under load ($mode)"
    bench 600 150 &
    pid=$!
    sleep 1.5
    "$root/scripts/pg.sh" restart "$work/c/pg" "$mode" >/dev/null
    wait "$pid" || fail "PostgreSQL restart ($mode)"
    [ "$(cluster ps | wc -l)" = 14 ] || fail "a process did not survive the restart ($mode)"
    audit "PostgreSQL restarted ($mode)"
done

echo "== 4. a payment worker killed between the gateway's answer and recording it"
cluster kill payment-service 1 KILL
cluster kill payment-service 2 KILL
sleep 0.5
cluster start payment-service 1 -- --fault-crash-after-gateway-call >/dev/null
bench 40 40 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    [ "$(cluster ps | grep -c '^payment-service 1 ')" = 0 ] && break
    sleep 0.1
done
[ "$(cluster ps | grep -c '^payment-service 1 ')" = 0 ] || fail "the fault was not injected"
# The gateway charged these, and nobody recorded its answer.
asked="$(psql -X -q -tA "$db" -c "SELECT count(*) FROM gw_ledger g JOIN pay_payments p ON \
    g.idempotency_key = 'authorize:' || p.checkout_id WHERE p.status = 'requested'")"
[ "$asked" -gt 0 ] || fail "the crash left no answer unrecorded"
cluster start payment-service 2 >/dev/null
wait "$pid" || {
    cat "$work/bench.log" >&2
    fail "payment worker crash"
}
# Those keys were asked for twice (the crashed worker, then the other), and charged once.
again="$(psql -X -q -tA "$db" -c "SELECT count(*) FROM gw_ledger g JOIN pay_payments p ON \
    g.idempotency_key = 'authorize:' || p.checkout_id WHERE g.calls >= 2 AND p.status <> \
    'requested' AND p.authorization_id = g.reference")"
[ "$again" -ge "$asked" ] || fail "$again of $asked lost answers were asked for again and recorded"
audit "a payment worker lost $asked gateway answers; asked again with the same key, charged once"
echo "== 5. an instance started while PostgreSQL is down waits for it, then runs"
"$root/scripts/pg.sh" stop "$work/c/pg" fast >/dev/null
"$acme" serve --db "$db" --services checkout-api --catalog "$root/catalog" --db-wait 60 \
    >"$work/late.log" 2>&1 &
late=$!
sleep 2
kill -0 "$late" 2>/dev/null || {
    cat "$work/late.log" >&2
    fail "acme serve gave up while the database was down"
}
grep -q "waiting for the database" "$work/late.log" || fail "acme serve did not say it waits"
"$root/scripts/pg.sh" start "$work/c/pg" >/dev/null
for _ in $(seq 1 100); do
    grep -q 'is running' "$work/late.log" && break
    sleep 0.1
done
grep -q 'is running' "$work/late.log" || {
    cat "$work/late.log" >&2
    fail "acme serve did not start once the database was back"
}
kill -TERM "$late"
wait "$late" || fail "acme serve did not stop cleanly"
echo "ok: started before its database, waited, then ran"
echo "all cluster faults survived"

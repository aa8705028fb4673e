#!/usr/bin/env bash
# A 202 is a promise: traces `acme serve`'s system calls (strace -f) during one checkout and
# checks that an fsync/fdatasync of the SQLite WAL completes after the checkout request is
# read and before the 202's bytes are sent. The same run with --durability normal must show no
# such sync (so the check can tell the two apart).
# usage: durability_trace.sh ACME_BINARY
set -uo pipefail
acme="$1"
command -v strace >/dev/null || { echo "strace not installed"; exit 77; }
command -v curl >/dev/null || { echo "curl not installed"; exit 77; }
# A sandbox that forbids ptrace cannot run this test: skipped rather than failed.
strace -f -qq -o /dev/null true 2>/dev/null || { echo "strace cannot trace here"; exit 77; }
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && pkill -KILL -P "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# Prints "synced" or "not-synced" for one run in mode $1 (empty: the default).
run() {
    local mode="$1" data="$work/data-${1:-default}" trace="$work/trace-${1:-default}"
    local extra=()
    [ -n "$mode" ] && extra=(--durability "$mode")
    strace -f -qq -s 256 -y -o "$trace" \
        -e trace=fsync,fdatasync,sendmsg,sendto,write,writev,recvmsg,recvfrom,read \
        "$acme" serve --data "$data" --listen "127.0.0.1:0" "${extra[@]}" >"$work/serve.log" 2>&1 &
    server=$!
    # The port the kernel picked (a fixed one may be taken by a test running beside this one).
    local base=""
    for _ in $(seq 1 200); do
        base="$(sed -n 's/^  http=//p' "$work/serve.log" | head -n 1)"
        [ -n "$base" ] && curl -sf "$base/healthz" >/dev/null 2>&1 && break
        sleep 0.05
    done
    local cart
    cart=$(curl -sf -XPOST "$base/carts" -H 'content-type: application/json' \
        -d '{"customerId":"trace"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
    curl -sf -XPOST "$base/carts/$cart/items" -H 'content-type: application/json' \
        -d '{"sku":"SKU-MUG","quantity":1}' >/dev/null
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$base/carts/$cart/checkout" \
        -H 'content-type: application/json' -H 'Idempotency-Key: trace-1' \
        -d '{"paymentToken":"tok_visa"}')
    # Stop acme itself (strace, on a signal, would detach and leave it running); strace
    # ends with it.
    pkill -TERM -P "$server" 2>/dev/null
    wait "$server" 2>/dev/null
    server=""
    if [ "$status" != 202 ]; then
        echo "checkout answered $status" >&2
        cat "$work/serve.log" >&2
        return 1
    fi
    # Line of the checkout request read, line of the 202 written, and between them a WAL sync
    # that completed (its own line ending in "= 0", or its "resumed" line on the same thread).
    awk '
        /POST \/carts\/[^ ]*\/checkout/ && /(recvmsg|recvfrom|read)\(/ && !request { request = NR }
        /HTTP\/1\.1 202/ && /(sendmsg|sendto|write|writev)\(/ && request && !accepted { accepted = NR }
        /(fsync|fdatasync)\(/ && /-wal>/ {
            if ($0 ~ /unfinished/) { pending[$1] = 1 } else if ($0 ~ /= 0$/) { syncs[NR] = 1 }
        }
        /<\.\.\. (fsync|fdatasync) resumed>/ && pending[$1] {
            delete pending[$1]
            if ($0 ~ /= 0$/) syncs[NR] = 1
        }
        END {
            if (!request || !accepted) { print "incomplete"; exit }
            for (n in syncs) if (n + 0 > request && n + 0 < accepted) { print "synced"; exit }
            print "not-synced"
        }' "$trace"
}

failures=0
default=$(run "") || exit 1
echo "default durability: WAL $default before the 202"
[ "$default" = synced ] || { echo "FAIL: the default answers 202 before the WAL is on disk"; failures=1; }
full=$(run full) || exit 1
echo "--durability full: WAL $full before the 202"
[ "$full" = synced ] || { echo "FAIL: --durability full answers 202 before the WAL is on disk"; failures=1; }
normal=$(run normal) || exit 1
echo "--durability normal: WAL $normal before the 202"
[ "$normal" = not-synced ] || { echo "FAIL: the trace cannot tell normal from full ($normal)"; failures=1; }
exit $failures

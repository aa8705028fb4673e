#!/usr/bin/env bash
# The scale-out mode on one machine: a private PostgreSQL 15 server (scripts/pg.sh) and every
# service as separate `acme serve --db … --services …` processes, N instances of each, all on
# 127.0.0.1. The script is the documentation of how the pieces are started.
#
#   scripts/cluster.sh up [--bus postgres] [--instances N] [--dir DIR] [--no-roles]
#                         [-- ACME SERVE FLAGS…]
#       starts it (DIR default build/cluster); prints `db=postgresql://…` (the owner's URL, for
#       `acme audit` and `acme dlq`) and one `http=http://127.0.0.1:PORT` line per
#       HTTP-serving (cart-api) instance
#   scripts/cluster.sh ps [--dir DIR]      `SERVICE-GROUP INSTANCE PID` per running process
#   scripts/cluster.sh down [--dir DIR]    stops everything `up` started
#   scripts/cluster.sh kill GROUP INSTANCE [SIGNAL] [--dir DIR]   signals one process (tests)
#   scripts/cluster.sh start GROUP INSTANCE [--dir DIR] [-- FLAGS…] starts it again (tests), with
#       FLAGS besides `up`'s
#
# Groups: one per service (queries are answered in every process, so promotions-service,
# which only answers one, needs no process of its own). cart-api serves the HTTP API.
# Least privilege (the default): `acme db roles`, as the owner, migrates the schema and makes a
# role per service and a login per group (`acme_GROUP_login`, a member of its service's role,
# and the storefront's for cart-api, which serves the HTTP API); every process connects as its
# group's login with `--service-roles`. `--no-roles`: every process connects as the owner.
# Flags after `--` go to every `acme serve` (e.g. `-- --stage-ms 200`). cart-api gets
# `--max-backlog 2000` unless they say otherwise (start_one).
# Environment: ACME_BIN (default build/src/cli/acme).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
acme="${ACME_BIN:-$root/build/src/cli/acme}"
groups=(cart-api checkout-api checkout-orchestrator inventory-service order-service
    payment-service warehouse-service)

cmd="${1:-}"
[ -n "$cmd" ] || {
    sed -n '2,18p' "$0" >&2
    exit 2
}
shift
dir="$root/build/cluster"
instances=1
bus=postgres
roles=1
positional=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --instances) instances="$2"; shift 2 ;;
        --bus) bus="$2"; shift 2 ;;
        --no-roles) roles=0; shift ;;
        --) shift; extra=("$@"); break ;;
        *) positional+=("$1"); shift ;;
    esac
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
[ "$bus" = postgres ] || {
    echo "cluster.sh: --bus $bus: only postgres is built so far" >&2
    exit 2
}
[[ "$instances" =~ ^[1-9][0-9]*$ ]] || {
    echo "cluster.sh: --instances takes a positive number" >&2
    exit 2
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# start_one GROUP INSTANCE: one `acme serve`; its pid in DIR/run/GROUP.INSTANCE.pid.
login_of() { echo "acme_${1//-/_}_login"; }

start_one() {
    local group="$1" i="$2" url log
    url="$(cat "$dir/pg/url")"
    log="$dir/logs/$group.$i.log"
    mkdir -p "$dir/logs" "$dir/run"
    local flags=()
    [ -s "$dir/run/flags" ] && mapfile -t flags <"$dir/run/flags"
    if [ "$(cat "$dir/run/roles" 2>/dev/null || echo 0)" = 1 ]; then
        url="${url/\/\/postgres@///$(login_of "$group")@}"
        flags+=(--service-roles)
    fi
    flags+=("${@:3}")
    # Admission control where checkouts are accepted: refused (503, Retry-After) while more
    # than about a second of work waits on the work list (this shape on one 2-core machine
    # handles ~2,000 messages/s), well inside the saga's deadlines, instead of accepted and
    # then compensated when their steps time out. Overridden by a --max-backlog of the caller.
    if [ "$group" = cart-api ] && [[ " ${flags[*]} " != *" --max-backlog "* ]]; then
        flags+=(--max-backlog 2000)
    fi
    (cd "$root" && exec "$acme" serve --db "$url" --services "$group" \
        --listen 127.0.0.1:0 --catalog "$root/catalog" "${flags[@]}" >"$log" 2>&1) &
    echo $! >"$dir/run/$group.$i.pid"
}

# wait_http GROUP INSTANCE: the instance's http= line once it serves, or fail.
wait_http() {
    local log="$dir/logs/$1.$2.log" line=""
    for _ in $(seq 1 300); do
        line="$(grep -m1 '^  http=' "$log" 2>/dev/null || true)"
        [ -n "$line" ] && break
        alive "$(cat "$dir/run/$1.$2.pid")" || break
        sleep 0.1
    done
    [ -n "$line" ] || {
        echo "cluster.sh: $1 instance $2 did not start:" >&2
        tail -n 20 "$log" >&2
        return 1
    }
    echo "${line#  }"
}

wait_running() {
    local log="$dir/logs/$1.$2.log"
    for _ in $(seq 1 300); do
        grep -q 'is running' "$log" 2>/dev/null && return 0
        alive "$(cat "$dir/run/$1.$2.pid")" || break
        sleep 0.1
    done
    echo "cluster.sh: $1 instance $2 did not start:" >&2
    tail -n 20 "$log" >&2
    return 1
}

case "$cmd" in
    up)
        [ -x "$acme" ] || {
            echo "cluster.sh: no acme at $acme (scripts/build.sh)" >&2
            exit 1
        }
        "$root/scripts/pg.sh" start "$dir/pg" >/dev/null
        mkdir -p "$dir/run"
        : >"$dir/run/flags"
        [ ${#extra[@]} -eq 0 ] || printf '%s\n' "${extra[@]}" >"$dir/run/flags"
        echo "$instances" >"$dir/run/instances"
        echo "$roles" >"$dir/run/roles"
        if [ "$roles" = 1 ]; then
            logins=()
            for group in "${groups[@]}"; do
                members="$group"
                [ "$group" = cart-api ] && members="$group,storefront"
                logins+=(--login "$(login_of "$group")=$members")
            done
            "$acme" db roles --db "$(cat "$dir/pg/url")" --catalog "$root/catalog" \
                "${logins[@]}" >"$dir/run/roles.log" 2>&1 || {
                cat "$dir/run/roles.log" >&2
                exit 1
            }
        fi
        # Without roles every process migrates at start (once per database: an advisory
        # lock); they start together, as a deployment would.
        for group in "${groups[@]}"; do
            for i in $(seq 1 "$instances"); do start_one "$group" "$i"; done
        done
        echo "db=$(cat "$dir/pg/url")"
        for i in $(seq 1 "$instances"); do wait_http cart-api "$i"; done
        for group in "${groups[@]}"; do
            [ "$group" = cart-api ] && continue
            for i in $(seq 1 "$instances"); do wait_running "$group" "$i"; done
        done
        ;;
    ps)
        for f in "$dir"/run/*.pid; do
            [ -e "$f" ] || continue
            name="$(basename "$f" .pid)"
            pid="$(cat "$f")"
            alive "$pid" && echo "${name%.*} ${name##*.} $pid"
        done
        ;;
    kill)
        [ ${#positional[@]} -ge 2 ] || {
            echo "usage: cluster.sh kill GROUP INSTANCE [SIGNAL]" >&2
            exit 2
        }
        kill -"${positional[2]:-KILL}" "$(cat "$dir/run/${positional[0]}.${positional[1]}.pid")"
        ;;
    start)
        [ ${#positional[@]} -ge 2 ] || {
            echo "usage: cluster.sh start GROUP INSTANCE" >&2
            exit 2
        }
        start_one "${positional[0]}" "${positional[1]}" "${extra[@]}"
        if [ "${positional[0]}" = cart-api ]; then
            wait_http cart-api "${positional[1]}"
        else
            wait_running "${positional[0]}" "${positional[1]}"
        fi
        ;;
    down)
        for f in "$dir"/run/*.pid; do
            [ -e "$f" ] || continue
            pid="$(cat "$f")"
            alive "$pid" && kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
        done
        for f in "$dir"/run/*.pid; do
            [ -e "$f" ] || continue
            pid="$(cat "$f")"
            for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
            alive "$pid" && kill -KILL "$pid" 2>/dev/null
            rm -f "$f"
        done
        "$root/scripts/pg.sh" stop "$dir/pg"
        ;;
    *)
        echo "cluster.sh: unknown command '$cmd' (up, ps, down, kill, start)" >&2
        exit 2
        ;;
esac

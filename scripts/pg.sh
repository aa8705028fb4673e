#!/usr/bin/env bash
# A private PostgreSQL 15 server from Debian's packages, on 127.0.0.1, for tests and for
# scripts/cluster.sh. Its data folder, socket and log live under DIR.
#
#   scripts/pg.sh start DIR [PORT]   initdb when DIR has no server yet, start it, create the
#                                    database `acme`; writes DIR/url (postgresql://...) and
#                                    prints it. PORT: a free one when not given.
#   scripts/pg.sh stop DIR [MODE]    stop it (MODE: fast, the default, smart or immediate)
#   scripts/pg.sh restart DIR [MODE] stop it (MODE) and start it again on the same port
#   scripts/pg.sh url DIR            print the URL of a started server
#
# fsync and synchronous_commit stay on (PostgreSQL's defaults): figures measured on it are
# durable ones. deadlock_timeout is 50 ms (default 1 s): competing consumers' batches that lock
# the same hot rows (stock) in different orders are found out and redone quickly. Only local connections over TCP are accepted (trust for 127.0.0.1: the server
# is private to whoever started it). Exit 0 without a server, saying so, when PostgreSQL is not
# installed and ACME_PG_OPTIONAL=1 (the test fixture): its tests then skip, saying why.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: scripts/pg.sh start|stop|restart|url DIR [PORT|MODE]" >&2
    exit 2
}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"

bindir=""
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        bindir="$d"
        break
    fi
done

# As root, PostgreSQL must run as the `postgres` user (initdb refuses root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((10000 + RANDOM % 10000))  # below the tests' 20000-39999 and the ephemeral ports
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "pg.sh: no free port found" >&2
    exit 1
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/acme"; }

start() {
    local port="${1:-}"
    if [ -z "$bindir" ]; then
        if [ "${ACME_PG_OPTIONAL:-0}" = "1" ]; then
            echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql): no server started"
            rm -f "$dir/url"
            exit 0
        fi
        echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        # The server must reach its folder through every parent.
        local p="$dir"
        while [ "$p" != "/" ]; do
            p="$(dirname "$p")"
            chmod o+x "$p" 2>/dev/null || true
        done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        cat "$dir/url"
        return
    fi
    [ -n "$port" ] || { [ -f "$dir/port" ] && port="$(cat "$dir/port")"; } || true
    [ -n "$port" ] || port="$(free_port)"
    echo "$port" >"$dir/port"
    as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' \
            -c max_connections=300 -c shared_buffers=128MB -c fsync=on -c deadlock_timeout=50ms ${ACME_PG_EXTRA:-} \
            -c synchronous_commit=on" start >/dev/null || {
        tail -20 "$dir/server.log" >&2
        exit 1
    }
    local url
    url="$(url_for "$port")"
    if ! "$bindir/psql" -q -X "postgresql://postgres@127.0.0.1:$port/postgres" -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'acme'" | grep -q 1; then
        "$bindir/psql" -q -X "postgresql://postgres@127.0.0.1:$port/postgres" \
            -c "CREATE DATABASE acme" >/dev/null
    fi
    echo "$url" >"$dir/url"
    echo "$url"
}

stop() {
    local mode="${1:-fast}"
    [ -n "$bindir" ] && [ -f "$data/PG_VERSION" ] || return 0
    if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_pg "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 60 stop >/dev/null
    fi
    rm -f "$dir/url"  # nobody is told of a server that is not running
}

case "$cmd" in
    start) start "${3:-}" ;;
    stop) stop "${3:-fast}" ;;
    restart)
        port="$(cat "$dir/port")"
        stop "${3:-fast}"
        start "$port"
        ;;
    url) cat "$dir/url" ;;
    *)
        echo "pg.sh: unknown command '$cmd'" >&2
        exit 2
        ;;
esac

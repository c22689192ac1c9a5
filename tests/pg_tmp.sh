#!/bin/sh
# pg_tmp.sh -- a throwaway PostgreSQL server for the tests of the postgres
# metadata backend (tests/unit/test_meta.c, tests/scenario/test_social_api.py).
#
#   pg_tmp.sh start DIR PORT   initdb in DIR/data, start on 127.0.0.1:PORT with
#                              its socket in DIR, create database "cascade";
#                              prints the libpq conninfo on stdout
#   pg_tmp.sh stop DIR         stop it (immediate) -- DIR is the caller's to remove
#
# Exit 77 when Debian's server binaries (package postgresql) are missing, so
# a caller can tell "not installed" from "failed". The server never runs as
# root: as root it runs as the postgres user (made by the package).
# fsync is off: the data is thrown away. DIR must be reachable by the
# postgres user (e.g. made by mktemp -d directly under /tmp).
set -eu

bindir() {
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

as_db_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
BIN=$(bindir) || { echo "pg_tmp: PostgreSQL server binaries not found" >&2; exit 77; }

case "$cmd" in
start)
    port=${3:?port}
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "pg_tmp: no postgres user" >&2; exit 1; }
        chown postgres "$dir"
    fi
    as_db_user "$BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_db_user "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -F -c max_connections=200" \
        start >/dev/null 2>&1 || { cat "$dir/server.log" >&2; exit 1; }
    as_db_user "$BIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -q \
        -c "CREATE DATABASE cascade" >/dev/null
    echo "host=127.0.0.1 port=$port user=postgres dbname=cascade connect_timeout=10"
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    as_db_user "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

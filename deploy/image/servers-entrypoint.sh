#!/bin/bash
# servers-entrypoint.sh: entrypoint of the stand-in server image (servers.Dockerfile).
#   postgres ARGS...      first start: initdb in $PGDATA (user $POSTGRES_USER, password from
#                         $POSTGRES_PASSWORD_FILE or $POSTGRES_PASSWORD, scram-sha-256 on TCP,
#                         database $POSTGRES_DB); then the server, as the postgres user
#   redis-server ARGS...  as the redis user
#   anything else         executed as given (nats-server ...)
set -euo pipefail

as_user() { # USER CMD...: drop root when we have it
    local user=$1
    shift
    if [[ $EUID -eq 0 ]]; then
        exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
    fi
    exec "$@"
}

postgres_init() {
    local user=${POSTGRES_USER:-postgres} db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
    local password=${POSTGRES_PASSWORD:-} pwfile
    if [[ -n ${POSTGRES_PASSWORD_FILE:-} ]]; then
        password=$(head -n 1 "$POSTGRES_PASSWORD_FILE")
    fi
    [[ -n $password ]] || { echo "servers-entrypoint: no POSTGRES_PASSWORD(_FILE)" >&2; exit 1; }
    pwfile=$(mktemp /tmp/pw.XXXXXX)
    printf '%s\n' "$password" >"$pwfile"
    chown postgres: "$pwfile"
    setpriv --reuid=postgres --regid=postgres --init-groups -- initdb -D "$PGDATA" -U "$user" \
        --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C \
        >/dev/null
    rm -f "$pwfile"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    # The database, from a server that listens on the socket only.
    setpriv --reuid=postgres --regid=postgres --init-groups -- pg_ctl -D "$PGDATA" -w \
        -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start >/dev/null
    if [[ $db != postgres ]]; then
        psql -XAtq -h /var/run/postgresql -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
    fi
    setpriv --reuid=postgres --regid=postgres --init-groups -- pg_ctl -D "$PGDATA" -w -m fast \
        stop >/dev/null
}

case "${1:-}" in
postgres)
    export PGDATA=${PGDATA:-/var/lib/postgresql/data}
    mkdir -p "$PGDATA" /var/run/postgresql
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$PGDATA" /var/run/postgresql
        chmod 700 "$PGDATA"
    fi
    [[ -s $PGDATA/PG_VERSION ]] || postgres_init
    as_user postgres "$@"
    ;;
redis-server)
    if [[ $EUID -eq 0 && -d /data ]]; then
        chown redis: /data
    fi
    as_user redis "$@"
    ;;
*) exec "$@" ;;
esac

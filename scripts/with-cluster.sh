#!/usr/bin/env bash
# Run a command against a throwaway production-shaped cluster on free loopback ports:
#   scripts/with-cluster.sh .venv/bin/pytest
# - a PostgreSQL primary (WAL streaming on, synchronous_commit on, WAL archived to
#   $CLUSTER_DIR/wal_archive) with a database 'customers';
# - a streaming hot-standby replica of it (pg_basebackup -R, replication slot 'replica1');
# - PgBouncer in front of the primary in transaction pooling mode (any database name routes);
# - a Redis for the cache.
# The application is pointed at PgBouncer (DATABASE_URL, DATABASE_PGBOUNCER=true), the
# replica (DATABASE_REPLICA_URLS) and Redis (CACHE_URL); CLUSTER_* give the parts' ports,
# data directories and a direct URL to the primary, for tests that stop, promote or back up.
# Everything lives in one temporary directory and is stopped and removed when the command
# ends, whatever its outcome (also when the command stopped the primary or promoted the
# replica). Durability is off (fsync) since it is thrown away. Missing packages (postgresql,
# pgbouncer, redis-server) are installed from the system's when run as root with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

find_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
find_pgbouncer() {
    command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; } || true
}

bindir="$(find_bindir)"
pgbouncer="$(find_pgbouncer)"
missing=()
{ [ -n "$bindir" ] && [ -x "$bindir/initdb" ]; } || missing+=(postgresql)
[ -n "$pgbouncer" ] || missing+=(pgbouncer)
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${missing[*]} from the system packages ..."
    # The packages' maintainer scripts try to start their system services; with no init
    # system that can fail the install. A policy-rc.d answering 101 ("not allowed") makes
    # invoke-rc.d skip the start; ours is only in place for the install, and only if the
    # machine has none of its own. We never use those services: ours run on free ports.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    status=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
        status=$?
    [ -z "$own_policy" ] || rm -f "$policy"
    [ "$status" = 0 ] || { echo "error: apt-get install ${missing[*]} failed" >&2; exit 1; }
    bindir="$(find_bindir)"
    pgbouncer="$(find_pgbouncer)"
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install 'postgresql'." >&2
    exit 1
fi
if [ -z "$pgbouncer" ]; then
    echo "error: pgbouncer not found; install 'pgbouncer'." >&2
    exit 1
fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "error: redis-server / redis-cli not found; install 'redis-server'." >&2
    exit 1
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/pgcluster.XXXXXX")"
primary="$workdir/primary"
replica="$workdir/replica"
run_as=()
if [ "$(id -u)" = 0 ]; then
    # initdb and pgbouncer refuse to run as root: run the cluster as the 'postgres' user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$workdir"
    run_as=(runuser -u postgres --)
fi
# Four distinct free ports: all bound at once so none is handed out twice.
read -r primary_port replica_port bouncer_port redis_port < <(.venv/bin/python -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')

alive() {
    # A daemon's exited process may linger as a zombie of PID 1 for a while: that is gone too.
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null &&
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
stop_pid() {
    # TERM, then KILL whatever is still there after 5 s.
    local pid="$1" i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do alive "$pid" || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    set +e
    # Every PostgreSQL server whose data directory is in the work dir: the primary, the
    # replica (promoted or not), and any a command started there (a restored backup).
    local pidfile pid
    for pidfile in "$workdir"/*/postmaster.pid "$workdir"/*/*/postmaster.pid; do
        [ -f "$pidfile" ] || continue
        pid="$(head -n 1 "$pidfile" 2>/dev/null)"
        "${run_as[@]}" "$bindir/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -t 10 stop >/dev/null 2>&1
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    [ -f "$workdir/pgbouncer.pid" ] && stop_pid "$(cat "$workdir/pgbouncer.pid" 2>/dev/null)"
    if [ -f "$workdir/redis.pid" ]; then
        pid="$(cat "$workdir/redis.pid" 2>/dev/null)"
        redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1
        for _ in $(seq 30); do alive "$pid" || break; sleep 0.1; done
        stop_pid "$pid"
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
child=
on_signal() {
    # Stop the command too (bash would otherwise act only once it has ended), then clean up.
    [ -z "$child" ] || { kill "-$1" "$child" 2>/dev/null; wait "$child" 2>/dev/null; }
    exit "$2"
}
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

fail() {
    # fail MESSAGE LOG: say what did not start, with the end of its log.
    echo "error: $1" >&2
    [ ! -f "${2:-}" ] || tail -n 20 "$2" >&2
    exit 1
}
psql_at() {
    # psql_at PORT SQL: one value from database 'postgres' on that server, no noise.
    "$bindir/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -XtAqc "$2" 2>/dev/null
}
wait_for() {
    # wait_for SECONDS COMMAND...: retry every 0.1 s until it succeeds.
    local tries=$(($1 * 10))
    shift
    until "$@"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

# The primary.
"${run_as[@]}" "$bindir/initdb" -D "$primary" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
cat >"$primary/pg_hba.conf" <<'EOF'
local all         all                 trust
host  replication all   127.0.0.1/32  trust
host  all         all   127.0.0.1/32  trust
EOF
mkdir -p "$workdir/wal_archive"
[ -z "${run_as[*]:-}" ] || chown postgres "$workdir/wal_archive"
# In the configuration file, so the replica's copy (pg_basebackup) has it too: archiving
# (not settable on the command line without quoting pains) only happens on a primary, i.e.
# on the replica once it is promoted.
cat >>"$primary/postgresql.conf" <<EOF

# with-cluster.sh
archive_mode = on
archive_command = 'test ! -f $workdir/wal_archive/%f && cp %p $workdir/wal_archive/%f'
EOF
common="-k $workdir -c listen_addresses=127.0.0.1 -c wal_level=replica -c max_wal_senders=10 \
    -c hot_standby=on -c max_connections=300 -c fsync=off -c full_page_writes=off ${PG_OPTIONS:-}"
"${run_as[@]}" "$bindir/pg_ctl" -D "$primary" -l "$workdir/primary.log" -w start -o \
    "-p $primary_port $common -c synchronous_commit=on" >/dev/null ||
    fail "the primary did not start" "$workdir/primary.log"
"$bindir/createdb" -h 127.0.0.1 -p "$primary_port" -U postgres customers

# The streaming replica. A fast checkpoint: the default spread one makes pg_basebackup wait
# out most of checkpoint_timeout (a minute and a half here).
"${run_as[@]}" "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$replica" -R -X stream -C -S replica1 -c fast ||
    fail "pg_basebackup of the primary failed" "$workdir/primary.log"
"${run_as[@]}" "$bindir/pg_ctl" -D "$replica" -l "$workdir/replica.log" -w start -o \
    "-p $replica_port $common -c hot_standby_feedback=on" >/dev/null ||
    fail "the replica did not start" "$workdir/replica.log"
wait_for 30 test "$(psql_at "$replica_port" 'SELECT pg_is_in_recovery()')" = t ||
    fail "the replica is not a hot standby" "$workdir/replica.log"
wait_for 30 test "$(psql_at "$primary_port" \
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ||
    fail "the replica is not streaming from the primary" "$workdir/replica.log"

# PgBouncer in front of the primary. Transaction pooling: a server connection is the
# client's for one transaction only, so no session state (SET, advisory locks, prepared
# statements) may outlive one; the server_reset_query is pointless then and left empty.
printf '"postgres" ""\n' >"$workdir/pgbouncer_users.txt"
cat >"$workdir/pgbouncer.ini" <<EOF
[databases]
customers = host=127.0.0.1 port=$primary_port dbname=customers
* = host=127.0.0.1 port=$primary_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir = $workdir
auth_type = trust
auth_file = $workdir/pgbouncer_users.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 500
default_pool_size = 40
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
logfile = $workdir/pgbouncer.log
pidfile = $workdir/pgbouncer.pid
EOF
[ -z "${run_as[*]:-}" ] || chown postgres "$workdir/pgbouncer.ini" "$workdir/pgbouncer_users.txt"
"${run_as[@]}" "$pgbouncer" -q -d "$workdir/pgbouncer.ini" ||
    fail "pgbouncer did not start" "$workdir/pgbouncer.log"
wait_for 15 test "$(psql_at "$bouncer_port" 'SELECT 1' 2>/dev/null)" = 1 ||
    fail "pgbouncer does not answer on port $bouncer_port" "$workdir/pgbouncer.log"

# Redis for the cache: memory only.
"${run_as[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$workdir/redis.pid" --dir "$workdir" \
    --logfile "$workdir/redis.log" >/dev/null ||
    fail "redis-server did not start" "$workdir/redis.log"
wait_for 15 test "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ||
    fail "redis does not answer on port $redis_port" "$workdir/redis.log"
wait_for 5 test -s "$workdir/redis.pid" || true

export DATABASE_URL="postgres://postgres@127.0.0.1:$bouncer_port/customers"
export DATABASE_PGBOUNCER=true
export DATABASE_REPLICA_URLS="postgres://postgres@127.0.0.1:$replica_port/customers"
export CACHE_URL="redis://127.0.0.1:$redis_port/0"
export CLUSTER_PRIMARY_URL="postgres://postgres@127.0.0.1:$primary_port/customers"
export CLUSTER_PRIMARY_PORT="$primary_port" CLUSTER_REPLICA_PORT="$replica_port"
export CLUSTER_PGBOUNCER_PORT="$bouncer_port" CLUSTER_REDIS_PORT="$redis_port"
export CLUSTER_PRIMARY_DATADIR="$primary" CLUSTER_REPLICA_DATADIR="$replica"
export CLUSTER_DIR="$workdir" CLUSTER_WAL_ARCHIVE="$workdir/wal_archive"
export PG_BINDIR="$bindir" PG_RUN_AS="${run_as[*]:-}" CLUSTER=1
echo "Cluster: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') primary :$primary_port," \
    "replica :$replica_port (streaming), pgbouncer :$bouncer_port (transaction)," \
    "redis :$redis_port"
# In the background (the standard input kept) so that a TERM reaches the trap at once.
"$@" <&0 &
child=$!
status=0
wait "$child" || status=$?
child=
exit "$status"

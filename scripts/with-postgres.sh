#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster on a free local port:
#   scripts/with-postgres.sh .venv/bin/pytest
# The cluster lives in a temporary directory, runs with durability off (it is thrown away),
# and is stopped and removed when the command ends, whatever its outcome.
# PG_KEEP_DATADIR=/path keeps the data directory there instead: created on first use,
# reused by later runs (the benchmark's million customers load once), stopped at the end
# and never removed. Its parent directories must be reachable by the server's user.
# PG_OPTIONS="-c name=value ..." adds server settings (the benchmark sizes shared_buffers).
# PG_PORT=N listens on that port instead of a free one.
set -euo pipefail
cd "$(dirname "$0")/.."

find_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bindir="$(find_bindir)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing PostgreSQL from the system packages ..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bindir="$(find_bindir)"
    fi
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install 'postgresql'." >&2
    exit 1
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/pgtest.XXXXXX")"
keep="${PG_KEEP_DATADIR:-}"
datadir="${keep:-$workdir/data}"
[ -z "$keep" ] || mkdir -p "$keep"
run_as=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the cluster as the packaged 'postgres' user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$workdir"
    [ -z "$keep" ] || chown postgres "$keep"
    run_as=(runuser -u postgres --)
fi
port="${PG_PORT:-}"
[ -n "$port" ] || port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
    # A kept cluster shuts down cleanly; a throwaway one is just killed.
    "${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" -m "$([ -n "$keep" ] && echo fast || echo immediate)" \
        stop >/dev/null 2>&1 || true
    rm -rf "$workdir"
}
trap cleanup EXIT

if [ ! -f "$datadir/PG_VERSION" ]; then
    "${run_as[@]}" "$bindir/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >/dev/null
fi
"${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$workdir/server.log" -w start -o \
    "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${PG_OPTIONS:-}" >/dev/null
if [ -z "$keep" ] || [ "$("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'customers'")" != 1 ]; then
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres customers
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/customers"
export PG_BINDIR="$bindir" PG_DATADIR="$datadir" PG_RUN_AS="${run_as[*]:-}"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port"
"$@"

#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster on a free local port:
#   scripts/with-postgres.sh .venv/bin/pytest
# The cluster lives in a temporary directory, runs with durability off (it is thrown away),
# and is stopped and removed when the command ends, whatever its outcome.
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
run_as=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the cluster as the packaged 'postgres' user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$workdir"
    run_as=(runuser -u postgres --)
fi
port="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
    "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$workdir"
}
trap cleanup EXIT

"${run_as[@]}" "$bindir/initdb" -D "$workdir/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w start -o \
    "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres customers

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/customers"
export PG_BINDIR="$bindir" PG_DATADIR="$workdir/data" PG_RUN_AS="${run_as[*]:-}"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port"
"$@"

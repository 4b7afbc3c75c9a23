#!/usr/bin/env bash
# `make bench`: serve the app with gunicorn over a million generated customers and print
# one table of latencies, throughput and query counts (see bench/README.md).
#
#   BENCH_CUSTOMERS=1000000   customers in the "scale" organization (seeded once, then reused)
#   BENCH_PGDATA=DIR          where the PostgreSQL cluster is kept between runs
#                             (default ~/.cache/customers-bench/pgdata)
#   BENCH_WORKERS=2 BENCH_THREADS=4   gunicorn's workers and threads per worker
#   BENCH_RESULTS=bench/RESULTS.md    where the run writes its table and machine facts
#   BENCH_ONLY="6 10"                 run only these scenario numbers (a partial run
#                                     writes no RESULTS.md unless BENCH_RESULTS is set)
#   BENCH_PYTHON_LOAD=1               use the Python load generator even if wrk is there
#   BENCH_SHOW_SQL=1                  print the SQL each scenario's request runs
#   BENCH_IMPORT_ROWS=1000000         rows of the import scenarios' file (21-24)
#   BENCH_IMPORT_PROFILE=DIR          record the import's workers with py-spy into DIR
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside-postgres" ]; then
    scripts/bootstrap.sh
    if [ ! -x .venv/bin/gunicorn ]; then
        echo "Installing the bench extra (gunicorn) ..."
        .venv/bin/pip install -q -e ".[test]"
    fi
    if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing wrk from the system packages ..."
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } ||
            echo "warning: could not install wrk; the Python load generator will be used." >&2
    fi

    if [ -z "${BENCH_PGDATA:-}" ]; then
        BENCH_PGDATA="${XDG_CACHE_HOME:-$HOME/.cache}/customers-bench/pgdata"
        if [ "$(id -u)" = 0 ]; then
            # As root the cluster runs as 'postgres', which cannot enter a private home
            # (/root is usually 0700): keep the data where that user can reach it.
            dir="$(dirname "$BENCH_PGDATA")"
            while [ "$dir" != / ]; do
                if [ -d "$dir" ] && [[ "$(stat -c %A "$dir")" != *x ]]; then
                    BENCH_PGDATA=/var/cache/customers-bench/pgdata
                    break
                fi
                dir="$(dirname "$dir")"
            done
        fi
    fi
    echo "PostgreSQL data kept in $BENCH_PGDATA (set BENCH_PGDATA to move it; delete it to reseed)"
    export PG_KEEP_DATADIR="$BENCH_PGDATA"
    exec scripts/with-postgres.sh bench/run.sh --inside-postgres
fi

# --- Inside scripts/with-postgres.sh: DATABASE_URL points at the kept cluster. -----------
customers="${BENCH_CUSTOMERS:-1000000}"
if ! [[ "$customers" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: BENCH_CUSTOMERS must be a positive whole number, got '$customers'." >&2
    exit 2
fi
workers="${BENCH_WORKERS:-2}"
threads="${BENCH_THREADS:-4}"
python=.venv/bin/python

# One database per size, so a small trial run and the million share the kept cluster
# without one having to be dropped for the other.
database="bench_${customers}"
server="${DATABASE_URL%/*}"
if [ "$("$PG_BINDIR/psql" "$server/postgres" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
    "$PG_BINDIR/psql" "$server/postgres" -qc "CREATE DATABASE $database"
fi
export DATABASE_URL="$server/$database"

# Logging stays at its production level (a line per request), written to a file.
export DEBUG=false BENCH=true READ_DOT_ENV=false CONN_MAX_AGE=600
export ALLOWED_HOSTS=127.0.0.1,localhost
# The API's per-token rate limit would turn most of a load test into 429s.
export API_RATE_LIMIT_PER_MINUTE=1000000000 API_CLIENT_RATE_LIMIT_PER_MINUTE=1000000000
SECRET_KEY="$($python -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY

$python manage.py migrate --noinput -v 0
$python manage.py collectstatic --noinput -v 0
$python manage.py seed_scale --customers "$customers"
# A migration or an earlier run's writes leave dead rows and a stale visibility map, which
# index-only scans and the planner's estimates depend on: measure a vacuumed database.
"$PG_BINDIR/psql" "$DATABASE_URL" -qc "VACUUM (ANALYZE)"
token="$($python manage.py create_access_token --organization scale --name "bench $(date -u +%FT%TZ)" \
    --scopes customers:read customers:write orders:read subscriptions:read products:read \
    metrics:read)"

free_port() {
    $python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rundir="$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$rundir"
}
trap cleanup EXIT

gunicorn_options=()
# Two servers run side by side: newer gunicorns would share one control socket in ~.
if .venv/bin/gunicorn --help | grep -q -- --no-control-socket; then
    gunicorn_options+=(--no-control-socket)
fi
serve() {  # serve NAME PORT WORKERS THREADS: start gunicorn in the background
    # Each worker takes at most its share of the 16 load connections (plus its threads),
    # as a load balancer would spread them: left alone, one worker's accept loop can win
    # most of the keep-alive connections and the run measures one core instead of two.
    local connections=$(((16 + $3 - 1) / $3 + $4))
    .venv/bin/gunicorn config.wsgi:application --bind "127.0.0.1:$2" --workers "$3" \
        --threads "$4" --worker-connections "$connections" --keep-alive 75 --timeout 900 \
        --graceful-timeout 5 \
        --error-logfile "$rundir/$1.log" "${gunicorn_options[@]}" >>"$rundir/$1.log" 2>&1 &
    pids+=("$!")
}
wait_ready() {  # wait_ready NAME PORT: until /healthz answers, at most 60 s
    for _ in $(seq 1 120); do
        if $python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$2/healthz', timeout=2)" \
            2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    echo "error: gunicorn ($1) did not answer on port $2; its log:" >&2
    cat "$rundir/$1.log" >&2
    exit 1
}

app_port="$(free_port)"
serve app "$app_port" "$workers" "$threads"
app_pid="${pids[-1]}"
export_port="$(free_port)"
# The export runs alone in one single-threaded worker, so that worker's peak memory is
# the export's.
serve export "$export_port" 1 1
export_pid="${pids[-1]}"
wait_ready app "$app_port"
wait_ready export "$export_port"
echo "gunicorn: app on 127.0.0.1:$app_port (pid $app_pid, $workers workers × $threads threads)," \
    "export on 127.0.0.1:$export_port (pid $export_pid)"

# A partial run (BENCH_ONLY) leaves bench/RESULTS.md alone unless BENCH_RESULTS is set.
options=()
if [ -n "${BENCH_RESULTS:-}" ] || [ -z "${BENCH_ONLY:-}" ]; then
    options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
fi
# Scenarios 21-24 are the import's (bench/imports.py), the others (1-20, 25-27)
# bench/scenarios.py's.
only_requests=() only_imports=()
for n in ${BENCH_ONLY:-}; do
    if [ "$n" -ge 21 ] 2>/dev/null && [ "$n" -le 24 ]; then
        only_imports+=("$n")
    else
        only_requests+=("$n")
    fi
done
status=0
if [ -z "${BENCH_ONLY:-}" ] || [ "${#only_requests[@]}" -gt 0 ]; then
    [ -z "${BENCH_ONLY:-}" ] || options+=(--only "${only_requests[@]}")
    $python -m bench.scenarios --url "http://127.0.0.1:$app_port" \
        --app-pid "$app_pid" --export-url "http://127.0.0.1:$export_port" \
        --export-pid "$export_pid" --token "$token" --workers "$workers" --threads "$threads" \
        "${options[@]}" || status=$?
fi
if [ -z "${BENCH_ONLY:-}" ] || [ "${#only_imports[@]}" -gt 0 ]; then
    # The import of BENCH_IMPORT_ROWS rows (default 1,000,000) into the scale organization,
    # its table added to RESULTS.md; what it created is removed at its end.
    import_options=()
    if [ -n "${BENCH_RESULTS:-}" ] || [ -z "${BENCH_ONLY:-}" ]; then
        import_options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
    fi
    [ -z "${BENCH_ONLY:-}" ] || import_options+=(--only "${only_imports[@]}")
    [ -z "${BENCH_IMPORT_PROFILE:-}" ] || import_options+=(--profile "$BENCH_IMPORT_PROFILE")
    $python -m bench.imports --url "http://127.0.0.1:$app_port" --token "$token" \
        "${import_options[@]}" || status=$?
fi
if [ "$status" != 0 ]; then
    echo "Some scenarios reported errors (see the table); gunicorn's logs:" >&2
    grep -hv '^{"request_id"' "$rundir"/*.log | tail -n 40 >&2 || true
fi
exit "$status"

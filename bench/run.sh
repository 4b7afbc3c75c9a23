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
#   BENCH_SHARED_BUFFERS=4096MB       PostgreSQL's shared_buffers (default: a quarter of
#                                     the memory, at most 8 GB, as for a production server)
#
# bench/run.sh --sizes 100k,1m,10m (make bench SIZES=100k,1m,10m): the cost curve (issue
# 19). Each size in turn gets its database bench_<N> (loaded once and timed, then reused),
# the request scenarios (not the export #9 nor the import 21-24, unless BENCH_ONLY names
# them) and then one table of each scenario's p50 at every size (bench/sizes.py), added to
# BENCH_RESULTS as its section "Cost curve (issue 19)"; the main table is left alone.
# A size whose estimated disk need (x1.5) exceeds the free space is refused, the others run.
#   BENCH_SIZES_OUT=DIR               where the per-size JSON files go (default: a new
#                                     directory under $TMPDIR, kept and printed)
#   BENCH_SIZES_REPLICA=0             no replica pass (by default each size's read-only
#                                     scenarios also run through a gunicorn whose GET reads a
#                                     streaming replica serves; made once per run, removed)
# Sizes mode measures p50 at c=1 only (bench.scenarios --no-throughput).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside-postgres" ]; then
    while [ $# -gt 0 ]; do
        case "$1" in
            --sizes) BENCH_SIZES="${2:-}"; shift 2 || shift ;;
            --sizes=*) BENCH_SIZES="${1#--sizes=}"; shift ;;
            *) echo "usage: bench/run.sh [--sizes 100k,1m,10m]" >&2; exit 2 ;;
        esac
        if [ -z "${BENCH_SIZES:-}" ]; then
            echo "error: --sizes needs a list such as 100k,1m,10m." >&2
            exit 2
        fi
    done
    scripts/bootstrap.sh
    if [ -n "${BENCH_SIZES:-}" ]; then
        # 100k,1m,10m -> "100000 1000000 10000000" (k and m suffixes, or plain numbers).
        BENCH_SIZES="$(.venv/bin/python -m bench.sizes parse "$BENCH_SIZES")"
        export BENCH_SIZES
    fi
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
    # The usual production sizing (a quarter of the memory; 128 MB, PostgreSQL's default,
    # would have the million customers' indexes read from the OS for every write).
    if [ -z "${BENCH_SHARED_BUFFERS:-}" ]; then
        memory_mb="$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
        quarter=$((memory_mb / 4))
        BENCH_SHARED_BUFFERS="$(( quarter > 8192 ? 8192 : (quarter < 128 ? 128 : quarter) ))MB"
    fi
    export PG_OPTIONS="-c shared_buffers=$BENCH_SHARED_BUFFERS ${PG_OPTIONS:-}"
    exec scripts/with-postgres.sh bench/run.sh --inside-postgres
fi

# --- Inside scripts/with-postgres.sh: DATABASE_URL points at the kept cluster. -----------
if [ -n "${BENCH_SIZES:-}" ]; then
    # The cost curve: each size in turn, as a run of its own (below, BENCH_SIZES_OUT set),
    # then the side-by-side table.
    sizes_out="${BENCH_SIZES_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench-sizes.XXXXXX")}"
    mkdir -p "$sizes_out"
    status=0
    if [ "${BENCH_SIZES_REPLICA:-1}" != 0 ]; then
        # A streaming replica of the kept cluster, made by the first size's replica pass
        # (below, in the size's run) and removed here at the end, whatever happens.
        BENCH_REPLICA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/bench-replica.XXXXXX")"
        [ -z "$PG_RUN_AS" ] || chown postgres "$BENCH_REPLICA_DIR"
        BENCH_REPLICA_PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        export BENCH_REPLICA_DIR BENCH_REPLICA_PORT
        remove_replica() {
            # shellcheck disable=SC2086
            $PG_RUN_AS "$PG_BINDIR/pg_ctl" -D "$BENCH_REPLICA_DIR/data" -m immediate -t 30 stop \
                >/dev/null 2>&1 || true
            rm -rf "$BENCH_REPLICA_DIR"
        }
        trap remove_replica EXIT
    fi
    for n in $BENCH_SIZES; do
        echo
        echo "=== $n customers (database bench_$n) ==="
        rm -f "$sizes_out/load_$n.json" "$sizes_out/scenarios_$n.json"
        # Loaded already, or the disk's room for it and the expected load time.
        plan=0
        .venv/bin/python -m bench.sizes plan "$n" "$sizes_out/load_$n.json" || plan=$?
        if [ "$plan" = 3 ]; then
            continue
        elif [ "$plan" != 0 ]; then
            echo "error: could not check size $n; skipping it." >&2
            status=1
            continue
        fi
        if ! env -u BENCH_SIZES BENCH_CUSTOMERS="$n" BENCH_SIZES_OUT="$sizes_out" \
            bench/run.sh --inside-postgres; then
            echo "warning: the run at $n customers failed or reported errors (above)." >&2
            status=1
        fi
    done
    # Like a partial run, BENCH_ONLY writes no results unless BENCH_RESULTS is set.
    report_options=()
    if [ -n "${BENCH_RESULTS:-}" ] || [ -z "${BENCH_ONLY:-}" ]; then
        report_options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
    fi
    .venv/bin/python -m bench.sizes "$sizes_out" "${report_options[@]}" || status=1
    echo "Per-size figures kept in $sizes_out (python -m bench.sizes $sizes_out prints them again)."
    exit "$status"
fi

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
sizes_out="${BENCH_SIZES_OUT:-}"  # set when this is one size of a --sizes run
seed_log="$(mktemp "${TMPDIR:-/tmp}/bench-seed.XXXXXX")"
seed_started="$(date +%s.%N)"
$python manage.py seed_scale --customers "$customers" | tee "$seed_log"
seed_seconds="$(awk -v a="$seed_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
seed_status=loaded
if grep -q '^Reusing the scale data' "$seed_log"; then
    seed_status=reused
fi
rm -f "$seed_log"
# A migration or an earlier run's writes leave dead rows and a stale visibility map, which
# index-only scans and the planner's estimates depend on: measure a vacuumed database.
"$PG_BINDIR/psql" "$DATABASE_URL" -qc "VACUUM (ANALYZE)"
if [ -n "$sizes_out" ]; then
    # The load's facts (rows, pg_database_size, the seed's wall time); the first load's
    # time stays in the database (table bench_load) for later runs that reuse it.
    $python -m bench.sizes facts "$customers" "$seed_status" "$seed_seconds" \
        "$sizes_out/load_$customers.json"
fi
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

# A partial run (BENCH_ONLY) leaves bench/RESULTS.md alone unless BENCH_RESULTS is set; a
# size of a --sizes run never writes it (bench/sizes.py adds its own section at the end).
options=()
write_results=false
if [ -z "$sizes_out" ] && { [ -n "${BENCH_RESULTS:-}" ] || [ -z "${BENCH_ONLY:-}" ]; }; then
    write_results=true
    options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
fi
only="${BENCH_ONLY:-}"
scenarios_command=("$python" -m bench.scenarios)
if [ -n "$sizes_out" ]; then
    # The request scenarios but the CSV export (#9), unless BENCH_ONLY says otherwise: the
    # export and the import (21-24) measure throughput over every customer, which grows
    # with the data by design. bench.sizes runs bench.scenarios with the deep list pages
    # as deep as a trial size's list goes, and --json keeps the figures for the table.
    [ -n "$only" ] || only="$($python -m bench.sizes numbers)"
    scenarios_command=("$python" -m bench.sizes scenarios "$customers")
    options+=(--no-throughput)
fi
# Scenarios 21-24 are the import's (bench/imports.py), 33-35 the merge, export and
# erase's (bench/merge_erase.py), the others bench/scenarios.py's.
only_requests=() only_imports=() only_customer_ops=()
for n in $only; do
    if [ "$n" -ge 21 ] 2>/dev/null && [ "$n" -le 24 ]; then
        only_imports+=("$n")
    elif [ "$n" -ge 33 ] 2>/dev/null && [ "$n" -le 35 ]; then
        only_customer_ops+=("$n")
    else
        only_requests+=("$n")
    fi
done
status=0
if [ -z "$only" ] || [ "${#only_requests[@]}" -gt 0 ]; then
    [ -z "$only" ] || options+=(--only "${only_requests[@]}")
    json=()
    [ -z "$sizes_out" ] || json=(--json "$sizes_out/scenarios_$customers.json")
    "${scenarios_command[@]}" --url "http://127.0.0.1:$app_port" \
        --app-pid "$app_pid" --export-url "http://127.0.0.1:$export_port" \
        --export-pid "$export_pid" --token "$token" --workers "$workers" --threads "$threads" \
        "${options[@]}" "${json[@]}" || status=$?
fi
if [ -n "$sizes_out" ] && [ -n "${BENCH_REPLICA_DIR:-}" ]; then
    # The replica pass: the read-only scenarios (GETs only) through a second gunicorn whose
    # GET reads a streaming replica of this cluster serves (core/replicas.py).
    read_only=" $($python -m bench.sizes numbers --read-only) "
    replica_numbers=()
    for n in "${only_requests[@]}"; do
        [[ "$read_only" != *" $n "* ]] || replica_numbers+=("$n")
    done
    replica_data="$BENCH_REPLICA_DIR/data"
    replica_status=0
    if [ ! -f "$replica_data/postmaster.pid" ]; then
        echo "Making a streaming replica of the bench cluster on port $BENCH_REPLICA_PORT ..."
        primary_port="${server##*:}"
        # shellcheck disable=SC2086
        if ! $PG_RUN_AS "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
            -D "$replica_data" -R -X stream -c fast ||
            ! $PG_RUN_AS "$PG_BINDIR/pg_ctl" -D "$replica_data" -l "$BENCH_REPLICA_DIR/replica.log" \
                -w start -o "-p $BENCH_REPLICA_PORT -k $BENCH_REPLICA_DIR \
                -c listen_addresses=127.0.0.1 -c hot_standby=on -c hot_standby_feedback=on \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=200 ${PG_OPTIONS:-}" >/dev/null; then
            echo "error: the replica could not be made; its log:" >&2
            cat "$BENCH_REPLICA_DIR/replica.log" >&2 2>/dev/null || true
            replica_status=1
        fi
    fi
    replica_url="postgres://postgres@127.0.0.1:$BENCH_REPLICA_PORT/$database"
    if [ "$replica_status" = 0 ]; then
        # Until the replica has replayed everything the primary pass wrote.
        target="$("$PG_BINDIR/psql" "$DATABASE_URL" -tAc "SELECT pg_current_wal_lsn()")"
        for _ in $(seq 1 120); do
            caught_up="$("$PG_BINDIR/psql" "$replica_url" -tAc \
                "SELECT pg_last_wal_replay_lsn() >= '$target'" 2>/dev/null || true)"
            [ "$caught_up" != t ] || break
            sleep 0.5
        done
        replica_port="$(free_port)"
        DATABASE_REPLICA_URLS="$replica_url" serve replica "$replica_port" "$workers" "$threads"
        replica_pid="${pids[-1]}"
        wait_ready replica "$replica_port"
        usable=false
        for _ in $(seq 1 30); do
            if $python -c "import json, sys, urllib.request as u; sys.exit(0 if json.load(u.urlopen(
                'http://127.0.0.1:$replica_port/healthz', timeout=5))['replicas']['replica_1'][
                'usable'] else 1)" 2>/dev/null; then
                usable=true
                break
            fi
            sleep 1
        done
        if [ "$usable" != true ]; then
            echo "error: the replica gunicorn's /healthz does not report replica_1 usable." >&2
            replica_status=1
        fi
    fi
    if [ "$replica_status" = 0 ]; then
        echo "Replica pass: the read-only scenarios through a gunicorn reading $replica_url ..."
        replica_postmaster="$(head -n 1 "$replica_data/postmaster.pid" 2>/dev/null || echo 0)"
        "${scenarios_command[@]}" --url "http://127.0.0.1:$replica_port" \
            --app-pid "$replica_pid" --export-url "http://127.0.0.1:$export_port" \
            --export-pid "$export_pid" --token "$token" --workers "$workers" \
            --threads "$threads" --no-throughput --only "${replica_numbers[@]}" \
            --also-pid "$app_pid" "$replica_postmaster" \
            --json "$sizes_out/scenarios_${customers}_replica.json" || replica_status=$?
    fi
    [ "$replica_status" = 0 ] || status=1
fi
if [ -z "$only" ] || [ "${#only_imports[@]}" -gt 0 ]; then
    # The import of BENCH_IMPORT_ROWS rows (default 1,000,000) into the scale organization,
    # its table added to RESULTS.md; what it created is removed at its end.
    import_options=()
    if [ "$write_results" = true ]; then
        import_options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
    fi
    [ -z "$only" ] || import_options+=(--only "${only_imports[@]}")
    [ -z "${BENCH_IMPORT_PROFILE:-}" ] || import_options+=(--profile "$BENCH_IMPORT_PROFILE")
    $python -m bench.imports --url "http://127.0.0.1:$app_port" --token "$token" \
        "${import_options[@]}" || status=$?
fi
if [ -z "$sizes_out" ] && { [ -z "$only" ] || [ "${#only_customer_ops[@]}" -gt 0 ]; }; then
    # Merge, export and erase of a customer with 10,000 orders, built and rolled back by
    # each run; after the import, whose section replaces what follows it.
    ops_options=()
    [ "$write_results" != true ] || ops_options+=(--results "${BENCH_RESULTS:-bench/RESULTS.md}")
    [ -z "$only" ] || ops_options+=(--only "${only_customer_ops[@]}")
    $python -m bench.merge_erase "${ops_options[@]}" || status=$?
fi
if [ "$status" != 0 ]; then
    echo "Some scenarios reported errors (see the table); gunicorn's logs:" >&2
    grep -hv '^{"request_id"' "$rundir"/*.log | tail -n 40 >&2 || true
fi
exit "$status"

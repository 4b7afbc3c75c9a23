#!/usr/bin/env bash
# Prove once, end to end, that the primary can be backed up and restored:
#   scripts/with-cluster.sh scripts/backup-restore.sh
# 1. writes a probe table (1000 rows) on the primary and notes its row count and checksum;
# 2. takes a base backup with pg_basebackup (tar, gzip, the WAL it needs included);
# 3. restores it into a fresh data directory, starts it as a standalone server on a free
#    port, and checks the same count and checksum there;
# 4. point in time: writes 500 more rows, names a restore point, then deletes every probe
#    row (the "mistake"); restores the same base backup with the archived WAL up to the
#    restore point, and checks that the 1500 rows are back and the deletion is not.
# Step 4 needs the primary's WAL archive (CLUSTER_WAL_ARCHIVE, which with-cluster.sh sets).
# Exits non-zero on any mismatch; removes the backup, the restored copies and the probe table.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CLUSTER_PRIMARY_PORT:?run inside scripts/with-cluster.sh}" "${CLUSTER_DIR:?}" "${PG_BINDIR:?}"
bindir="$PG_BINDIR"
read -r -a run_as <<<"${PG_RUN_AS:-}"
primary_url="postgres://postgres@127.0.0.1:$CLUSTER_PRIMARY_PORT/customers"
backup="$CLUSTER_DIR/backup"
restores=()

q() {
    # q URL SQL: the result, unaligned, no noise.
    "$bindir/psql" "$1" -XtAq -v ON_ERROR_STOP=1 -c "$2"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
free_port() {
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
probe_sql="SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || note, ',' ORDER BY id)), '-')
           FROM backup_probe"

cleanup() {
    set +e
    local dir
    for dir in "${restores[@]}"; do
        "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1
        rm -rf "$dir"
    done
    rm -rf "$backup"
    q "$primary_url" "SET client_min_messages = warning; DROP TABLE IF EXISTS backup_probe" >/dev/null 2>&1
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

restore() {
    # restore NAME [RECOVERY SETTINGS...]: unpack the base backup into a fresh data directory
    # and start it on a free port, left in $port. With settings, it first recovers (archive
    # recovery, recovery.signal) up to the target they name, then is promoted. No hot standby
    # meanwhile (it would need the primary's max_connections): it opens once recovered.
    local name="$1" dir="$CLUSTER_DIR/$1"
    shift
    restores+=("$dir")
    mkdir -m 700 "$dir"
    tar -xzf "$backup/base.tar.gz" -C "$dir"
    mkdir -p -m 700 "$dir/pg_wal"
    tar -xzf "$backup/pg_wal.tar.gz" -C "$dir/pg_wal"
    # What the primary's copy says about replication slots and standby mode does not apply.
    rm -f "$dir/standby.signal" "$dir/recovery.signal"
    if [ "$#" -gt 0 ]; then
        printf '%s\n' "" "# backup-restore.sh: point-in-time recovery" "$@" >>"$dir/postgresql.auto.conf"
        touch "$dir/recovery.signal"
    fi
    [ "${#run_as[@]}" = 0 ] || chown -R postgres "$dir"
    port="$(free_port)"
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$CLUSTER_DIR/$name.log" -w -t 120 start -o \
        "-p $port -k $CLUSTER_DIR -c listen_addresses=127.0.0.1 -c archive_mode=off \
         -c hot_standby=off -c fsync=off" >/dev/null || {
        tail -n 20 "$CLUSTER_DIR/$name.log" >&2
        fail "the restored copy ($name) did not start"
    }
}

wait_out_of_recovery() {
    # wait_out_of_recovery URL: true once the server is a standalone primary (60 s at most).
    local i
    for i in $(seq 600); do
        [ "$(q "$1" 'SELECT pg_is_in_recovery()' 2>/dev/null)" != f ] || return 0
        sleep 0.1
    done
    return 1
}

# 1. The probe, before the backup.
q "$primary_url" "SET client_min_messages = warning; DROP TABLE IF EXISTS backup_probe;
    CREATE TABLE backup_probe (id int PRIMARY KEY, note text NOT NULL);
    INSERT INTO backup_probe SELECT i, md5(i::text) FROM generate_series(1, 1000) AS i" >/dev/null
read -r rows checksum <<<"$(q "$primary_url" "$probe_sql")"
[ "$rows" = 1000 ] || fail "the probe table has $rows rows on the primary, not 1000"

# 2. The base backup.
mkdir -p "$backup"
[ "${#run_as[@]}" = 0 ] || chown postgres "$backup"
started="$(now)"
"${run_as[@]}" "$bindir/pg_basebackup" -h 127.0.0.1 -p "$CLUSTER_PRIMARY_PORT" -U postgres \
    -D "$backup" -Ft -z -X stream -c fast
echo "backup: $(du -sm "$backup" | cut -f1) MB in $(since "$started") s" \
    "($(cd "$backup" && ls | tr '\n' ' ' | sed 's/ $//'))"

# 3. Restore it and compare.
started="$(now)"
restore restored
url="postgres://postgres@127.0.0.1:$port/customers"
wait_out_of_recovery "$url" || fail "the restored copy is still in recovery"
read -r got_rows got_checksum <<<"$(q "$url" "$probe_sql")"
[ "$got_rows" = "$rows" ] || fail "restore: $got_rows rows, the primary had $rows"
[ "$got_checksum" = "$checksum" ] || fail "restore: checksum $got_checksum, the primary had $checksum"
"${run_as[@]}" "$bindir/pg_ctl" -D "$CLUSTER_DIR/restored" -m fast stop >/dev/null
echo "restore: ok, $got_rows rows, checksum matches (standalone server up in $(since "$started") s)"

# 4. Point in time, from the same base backup and the WAL archive.
archive="${CLUSTER_WAL_ARCHIVE:-}"
if [ -z "$archive" ] || [ "$(q "$primary_url" 'SHOW archive_mode')" = off ]; then
    echo "point in time: skipped (the primary archives no WAL)"
    exit 0
fi
q "$primary_url" "INSERT INTO backup_probe SELECT i, md5(i::text) FROM generate_series(1001, 1500) AS i" >/dev/null
read -r pitr_rows pitr_checksum <<<"$(q "$primary_url" "$probe_sql")"
q "$primary_url" "SELECT pg_create_restore_point('backup_restore_probe')" >/dev/null
q "$primary_url" "DELETE FROM backup_probe" >/dev/null
# Close the WAL segment so that it is archived, and wait until it is.
segment="$(q "$primary_url" 'SELECT pg_walfile_name(pg_switch_wal())')"
for i in $(seq 300); do
    [ "$(q "$primary_url" "SELECT coalesce(last_archived_wal >= '$segment', false) FROM pg_stat_archiver")" = t ] &&
        break
    [ "$i" != 300 ] || fail "WAL segment $segment was not archived within 30 s"
    sleep 0.1
done
started="$(now)"
restore pitr "restore_command = 'cp $archive/%f %p'" \
    "recovery_target_name = 'backup_restore_probe'" "recovery_target_action = 'promote'"
url="postgres://postgres@127.0.0.1:$port/customers"
wait_out_of_recovery "$url" || fail "the point-in-time copy did not finish recovery"
read -r got_rows got_checksum <<<"$(q "$url" "$probe_sql")"
[ "$got_rows" = "$pitr_rows" ] || fail "point in time: $got_rows rows, $pitr_rows at the restore point"
[ "$got_checksum" = "$pitr_checksum" ] || fail "point in time: checksum differs from the restore point's"
"${run_as[@]}" "$bindir/pg_ctl" -D "$CLUSTER_DIR/pitr" -m fast stop >/dev/null
echo "point in time: ok, $got_rows rows at restore point 'backup_restore_probe'" \
    "(the later DELETE is not there; recovered in $(since "$started") s)"

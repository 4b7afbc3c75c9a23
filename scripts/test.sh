#!/usr/bin/env bash
# Set everything up and run the whole suite: lint (ruff, then the import layers), then the
# tests on SQLite, on a throwaway PostgreSQL, and the cluster's (scripts/with-cluster.sh).
# Extra arguments go to pytest:
# scripts/test.sh -k metadata
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-chromium.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || {
    echo "ruff format would change files: run .venv/bin/ruff format ." >&2
    exit 1
}

echo "== import layers"
# The contracts in pyproject.toml ([tool.importlinter]): an upward import fails here.
.venv/bin/lint-imports

echo "== tests on SQLite"
env -u DATABASE_URL .venv/bin/pytest "$@"

echo "== tests on PostgreSQL"
scripts/with-postgres.sh .venv/bin/pytest "$@"

echo "== tests on a cluster: primary, streaming replica, PgBouncer, Redis"
# The tests marked `cluster` (elsewhere skipped), then a backup and restore of the
# primary. Pytest's exit status 5 (no test selected, e.g. by -k) is not a failure here.
scripts/with-cluster.sh bash -c '
    status=0
    .venv/bin/pytest -m cluster tests/cluster "$@" || status=$?
    if [ "$status" != 0 ] && [ "$status" != 5 ]; then exit "$status"; fi
    scripts/backup-restore.sh
' bash "$@"

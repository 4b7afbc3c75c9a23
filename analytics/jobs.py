"""The `metrics_compact` job (registered with core.jobs, run by `manage.py run_jobs`):
folds the daily figures' appended rows into one per key, once a minute (PostgreSQL; SQLite
keeps no figures)."""

from django.db import connection, transaction

COMPACT_EVERY_SECONDS = 60.0


def compact_figures() -> int:
    """Fold each key's rows into one; how many rows went."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT analytics_compact()")
        return cursor.fetchone()[0]

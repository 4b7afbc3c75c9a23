"""The `duplicates_scan` job (registered with core.jobs, run by `manage.py run_jobs`): each
run looks at a batch of each organization's customers created or changed since its last
scan (customers.duplicates.scan_organization) and records the likely duplicates. Polled
once a minute when idle; while a backlog lasts (a first scan of a million customers) the
worker runs it back to back, a batch of 500 per organization at a time, each batch its own
short transaction, so the customer list never waits for it."""

from customers.duplicates import scan_all

SCAN_EVERY_SECONDS = 60.0


def scan_duplicates() -> int:
    """How many customers were looked at (0: every organization is up to date)."""
    return scan_all()

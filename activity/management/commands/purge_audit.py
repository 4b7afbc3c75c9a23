"""Remove timeline entries older than AUDIT_RETENTION_DAYS, for cron:

    0 3 * * *  cd /srv/customers && .venv/bin/python manage.py purge_audit

Without the setting (the default) every entry is kept and the command deletes nothing.
"""

from datetime import UTC, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from activity.models import Entry
from organizations.models import Organization

BATCH_SIZE = 5000


class Command(BaseCommand):
    help = (
        "Delete timeline (audit log) entries older than AUDIT_RETENTION_DAYS days, a batch "
        "at a time, and print how many. Keeps everything when the setting is empty."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; delete nothing."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            metavar="N",
            help="Keep the last N days instead of AUDIT_RETENTION_DAYS (at least 1).",
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, metavar="N")

    def handle(self, *args, dry_run: bool, days: int | None, batch_size: int, **options) -> None:
        days = days if days is not None else settings.AUDIT_RETENTION_DAYS
        if days is None:
            self.stdout.write("AUDIT_RETENTION_DAYS is not set: every entry is kept; 0 deleted.")
            return
        if days < 1 or batch_size < 1:
            raise CommandError("--days and --batch-size take a whole number of at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        when = cutoff.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        total = 0
        # Organization by organization: each range is one of the audit log's own index
        # (organization, created_at, id), where a bare `created_at < cutoff` has no index
        # and would read the whole table for every batch.
        for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
            old = Entry.objects.filter(organization_id=organization_id, created_at__lt=cutoff)
            if dry_run:
                total += old.count()
                continue
            while True:
                # Each batch is its own short transaction (autocommit): no long lock, and
                # an interrupted run keeps what it removed.
                ids = list(
                    old.order_by("created_at", "id").values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    break
                _, deleted = Entry.objects.filter(pk__in=ids).delete()
                total += deleted.get(Entry._meta.label, 0)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {total} timeline entr{'y' if total == 1 else 'ies'} older than {days} "
            f"day{'' if days == 1 else 's'} (before {when})."
        )

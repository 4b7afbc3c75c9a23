from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from orders.services import renew_due_subscriptions


class Command(BaseCommand):
    help = "Renew every due subscription (run it from cron or a scheduler, e.g. hourly)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", help="Pretend it is this ISO 8601 time (for tests and catch-up runs)."
        )

    def handle(self, *args, now: str | None = None, **options):
        when = None
        if now:
            try:
                when = datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now must be an ISO 8601 time, got {now!r}.") from None
            if when.tzinfo is None:
                raise CommandError("--now needs a timezone, e.g. 2026-12-01T00:00:00+00:00.")
        summary = renew_due_subscriptions(now=when)
        self.stdout.write(
            f"renewed {summary.renewed}, declined {summary.declined}, "
            f"unpaid {summary.unpaid}, ended {summary.ended}"
        )

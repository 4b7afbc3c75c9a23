"""Recompute the kept daily figures from the tables (PostgreSQL; SQLite keeps none):

    python manage.py rebuild_metrics [--organization SLUG]

They are kept by triggers in the same transaction as every write, so this is for after a
bulk load with the triggers off, or to check them. Writers of orders, subscriptions,
checkouts and customers wait while it runs (seconds at a million customers).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from organizations.models import Organization


class Command(BaseCommand):
    help = "Recompute the analytics daily figures from the tables (PostgreSQL only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", metavar="SLUG", help="Only this organization.")

    def handle(self, *args, organization: str | None, **options) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("SQLite keeps no daily figures (it sums the tables): nothing to do.")
            return
        org_id = None
        if organization:
            org = Organization.objects.filter(slug=organization).first()
            if org is None:
                raise CommandError(f"No organization with the slug {organization!r}.")
            org_id = org.pk
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT analytics_rebuild(%s)", [org_id])
        which = f"of {organization}" if organization else "of every organization"
        self.stdout.write(
            f"Rebuilt the daily figures {which} in {time.monotonic() - started:.1f} s."
        )

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from core.changes import Actor, ActorType, acting
from imports import services
from imports.jobs import run_imports
from imports.models import CustomerImport
from organizations.models import Organization

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import customers from a CSV file into an organization: a dry run first (its counts "
        "and errors printed), then the apply, with a progress bar. The same importer as the "
        "dashboard's and the API's; the import shows on the dashboard too."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file.")
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--match", choices=CustomerImport.Match.values, default="external_id")
        parser.add_argument("--mode", choices=CustomerImport.Mode.values, default="upsert")
        parser.add_argument(
            "--metadata", choices=CustomerImport.MetadataMode.values, default="merge"
        )
        parser.add_argument("--blank", choices=CustomerImport.Blank.values, default="keep")
        parser.add_argument("--dry-run", action="store_true", help="Check the file; write nothing.")
        parser.add_argument(
            "--skip-errors", action="store_true", help="Apply the good rows, skip the others."
        )
        parser.add_argument(
            "--no-webhooks", action="store_true", help="Send no webhooks for this import."
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization']!r}.")
        actor = Actor(ActorType.SYSTEM, name="manage.py import_customers")
        try:
            with acting(actor=actor), path.open("rb") as stream:
                customer_import = services.import_create(
                    organization=organization,
                    file=File(stream, name=path.name),
                    filename=path.name,
                    match=options["match"],
                    mode=options["mode"],
                    metadata_mode=options["metadata"],
                    blank=options["blank"],
                    send_webhooks=not options["no_webhooks"],
                )
        except ValidationError as error:
            raise CommandError(_said(error)) from None
        self.stdout.write(f"Import {customer_import.pk}: checking {path.name} ...")
        customer_import = self._run(customer_import, "Checking")
        if customer_import.status != CustomerImport.Status.READY:
            raise CommandError(
                customer_import.failure or f"The import is {customer_import.status}."
            )
        counts = customer_import.counts
        self.stdout.write(
            f"To create {counts['create']:,}, to update {counts['update']:,}, unchanged "
            f"{counts['unchanged']:,}, rows with errors {counts['error']:,}."
        )
        for error in customer_import.errors.order_by("row", "pk")[:SHOWN_ERRORS]:
            where = f", {error.column}" if error.column else ""
            self.stdout.write(f"  row {error.row}{where}: {error.message}")
        if counts["error"] > SHOWN_ERRORS:
            self.stdout.write(
                f"  ... and more: GET /v1/customer-imports/{customer_import.pk}/errors has all."
            )
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
            return
        try:
            services.import_apply(
                customer_import=customer_import, skip_errors=options["skip_errors"]
            )
        except ValidationError:
            raise CommandError(
                f"{counts['error']:,} row(s) have errors: fix them, or pass --skip-errors."
            ) from None
        customer_import = self._run(refreshed(customer_import), "Applying")
        counts = customer_import.counts
        self.stdout.write(
            f"Done: created {counts['created']:,}, updated {counts['updated']:,}, skipped "
            f"{counts['skipped']:,}."
        )

    def _run(self, customer_import: CustomerImport, label: str) -> CustomerImport:
        bar = ProgressBar(self.stderr, label)
        run_imports(only=customer_import, on_batch=bar.show)
        customer_import = refreshed(customer_import)
        bar.show(customer_import, final=True)
        return customer_import


def refreshed(customer_import: CustomerImport) -> CustomerImport:
    customer_import.refresh_from_db()
    return customer_import


class ProgressBar:
    """`Applying [########------------]  40%  80,000 rows  12,345 rows/s  0:06 left`: on a
    terminal redrawn in place, otherwise a line per tenth."""

    WIDTH = 30

    def __init__(self, out, label: str):
        self.out, self.label, self.shown = out, label, -1
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def show(self, customer_import: CustomerImport, final: bool = False) -> None:
        progress = 1.0 if final else customer_import.progress
        tenth = int(progress * 10)
        if not self.tty and tenth == self.shown and not final:
            return
        self.shown = tenth
        filled = int(progress * self.WIDTH)
        left = customer_import.seconds_left
        eta = f"  {int(left // 60)}:{int(left % 60):02d} left" if left and not final else ""
        line = (
            f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {progress:4.0%}  "
            f"{customer_import.rows_done:,} rows  "
            f"{customer_import.rows_per_second:,.0f} rows/s{eta}"
        )
        ending = "\n" if final or not self.tty else ""
        self.out.write(("\r" if self.tty else "") + line, ending=ending)
        self.out.flush()


def _said(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{f}: {m}" for f, ms in error.message_dict.items() for m in ms)
    return "; ".join(error.messages)

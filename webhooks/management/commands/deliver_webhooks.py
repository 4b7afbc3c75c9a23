from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Deliver pending webhooks; runs until stopped, or once with --once. The same as "
        "`run_jobs --only webhooks`, which runs every background job."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")

    def handle(self, *args, once: bool, interval: float, **options):
        call_command(
            "run_jobs", only=["webhooks"], once=once, interval=interval, stdout=self.stdout
        )

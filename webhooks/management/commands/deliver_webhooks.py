import time

from django.core.management.base import BaseCommand

from webhooks.worker import deliver_due


class Command(BaseCommand):
    help = "Deliver pending webhooks; runs until stopped, or once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")

    def handle(self, *args, once: bool, interval: float, **options):
        while True:
            sent = 0
            while batch := deliver_due():
                sent += batch
            if once:
                self.stdout.write(f"delivered {sent} attempt(s)")
                return
            time.sleep(interval)

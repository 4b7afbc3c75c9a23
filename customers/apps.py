from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        from core import jobs
        from customers.jobs import SCAN_EVERY_SECONDS, scan_duplicates

        jobs.register("duplicates_scan", scan_duplicates, every=SCAN_EVERY_SECONDS)

from django.apps import AppConfig


class CheckoutsConfig(AppConfig):
    name = "checkouts"

    def ready(self) -> None:
        from checkouts.jobs import RENEWALS_EVERY_SECONDS, renew_due
        from core import jobs

        jobs.register("renewals", renew_due, every=RENEWALS_EVERY_SECONDS)

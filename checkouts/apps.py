from django.apps import AppConfig


class CheckoutsConfig(AppConfig):
    name = "checkouts"

    def ready(self) -> None:
        from checkouts.erasure import checkouts_section, scrub
        from checkouts.jobs import RENEWALS_EVERY_SECONDS, renew_due
        from core import erasure, jobs

        jobs.register("renewals", renew_due, every=RENEWALS_EVERY_SECONDS)
        erasure.register(scrub)
        erasure.register_section("checkouts", checkouts_section)

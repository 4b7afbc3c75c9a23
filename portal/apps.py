from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The customer's own side: customer sessions, the customer portal API, the hosted
    pages and sign-in by emailed code."""

    name = "portal"

    def ready(self) -> None:
        from core import erasure, jobs
        from portal.erasure import scrub
        from portal.jobs import PURGE_EVERY_SECONDS, purge_expired

        jobs.register("portal_purge", purge_expired, every=PURGE_EVERY_SECONDS)
        erasure.register(scrub)

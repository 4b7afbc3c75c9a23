from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core import changes, erasure, jobs
        from webhooks.erasure import scrub, webhook_events_section
        from webhooks.events import on_changes
        from webhooks.worker import deliver_due

        changes.register(on_changes)
        jobs.register("webhooks", deliver_due)
        erasure.register(scrub)
        erasure.register_section("webhook_events", webhook_events_section)

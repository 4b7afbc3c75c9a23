from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core import changes, jobs
        from webhooks.events import on_changes
        from webhooks.worker import deliver_due

        changes.register(on_changes)
        jobs.register("webhooks", deliver_due)

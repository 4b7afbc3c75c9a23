from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core import changes
        from webhooks.events import on_changes

        changes.register(on_changes)

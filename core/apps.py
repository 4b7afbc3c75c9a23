from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import jobs
        from core.emails import send_due_emails

        jobs.register("emails", send_due_emails)

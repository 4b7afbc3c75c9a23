from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Activity"

    def ready(self) -> None:
        from activity.deliveries import delivery_entry_record
        from activity.services import entry_record
        from core import changes

        changes.register(entry_record)
        changes.register(delivery_entry_record)

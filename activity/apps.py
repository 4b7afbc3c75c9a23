from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Activity"

    def ready(self) -> None:
        from activity.deliveries import delivery_entry_record
        from activity.erasure import notes_section, privacy_entry_record, scrub, timeline_section
        from activity.services import entry_record
        from core import changes, erasure

        changes.register(entry_record)
        changes.register(delivery_entry_record)
        changes.register(privacy_entry_record)
        erasure.register(scrub)
        erasure.register_section("notes", notes_section)
        erasure.register_section("timeline", timeline_section)

from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"

    def ready(self) -> None:
        from core import jobs
        from organizations.jobs import apply_timezone_changes

        jobs.register("timezone_changes", apply_timezone_changes)

from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from core import jobs
        from imports.jobs import run_imports

        jobs.register("imports", run_imports)

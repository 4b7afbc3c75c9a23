from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Figures over time: the metrics (definitions in metrics.py), their periods in the
    merchant's timezone, the kept daily figures, the metrics API and the overview page."""

    name = "analytics"

    def ready(self) -> None:
        from analytics.jobs import COMPACT_EVERY_SECONDS, compact_figures
        from core import jobs

        jobs.register("metrics_compact", compact_figures, every=COMPACT_EVERY_SECONDS)

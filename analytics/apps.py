from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Figures over time: the metrics (definitions in metrics.py), their periods in the
    merchant's timezone, the metrics API and the overview page."""

    name = "analytics"

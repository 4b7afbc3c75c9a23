from django.apps import AppConfig


class CheckoutsConfig(AppConfig):
    name = "checkouts"

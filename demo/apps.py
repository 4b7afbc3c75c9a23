from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The data generators that fill every app (`seed_demo`, `seed_scale`): above the apps
    they seed, so core/ imports none of them."""

    name = "demo"
    verbose_name = "Demo and scale data"

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The customer's own side: customer sessions and the customer portal API (the hosted
    pages and sign-in by code come later, on the same sessions)."""

    name = "portal"

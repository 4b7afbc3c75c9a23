"""Shared by the portal's tests and the API-wide walks (tests/api): a customer session
and a test client sending its token."""

from django.test import Client

from portal.services import customer_session_create


def session_token(customer, **kwargs) -> str:
    _, token = customer_session_create(customer=customer, **kwargs)
    return token


def portal_client(customer) -> Client:
    """A Django test client acting as `customer` in the portal."""
    return Client(headers={"Authorization": f"Bearer {session_token(customer)}"})

"""API fixtures: tokens, an authenticated test client, and the real polar-sdk client
pointed at a live server."""

import pytest
from django.test import Client

from organizations.models import AccessTokenScope
from organizations.services import access_token_create

ALL_SCOPES = list(AccessTokenScope.values)


@pytest.fixture
def make_token(db):
    """make_token(organization, scopes=ALL_SCOPES, **kwargs) -> secret."""

    def make(organization, scopes=None, **kwargs):
        _, secret = access_token_create(
            organization=organization, name="test", scopes=scopes or ALL_SCOPES, **kwargs
        )
        return secret

    return make


@pytest.fixture
def token(make_token, organization):
    return make_token(organization)


@pytest.fixture
def outsider_token(make_token, other_organization):
    """A valid token of another organization: must never reach ours."""
    return make_token(other_organization)


@pytest.fixture
def api(token):
    """A Django test client sending our organization's token."""
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def sdk(live_server, token):
    """The official polar-sdk client, talking HTTP to a live server."""
    from polar.v2026_10 import Polar

    with Polar(token, base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def outsider_sdk(live_server, outsider_token):
    from polar.v2026_10 import Polar

    with Polar(outsider_token, base_url=live_server.url, timeout=30) as client:
        yield client

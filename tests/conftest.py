import threading

import pytest
from django.core.cache import cache
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test import Client, testcases

from organizations.models import AccessTokenScope
from organizations.services import access_token_create
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytest_plugins = ["tests.smtp"]  # the smtp_server fixture: a real SMTP server on loopback

PASSWORD = "correct-horse-battery"


class _LiveServer(ThreadedWSGIServer):
    """The live server of the browser and SDK tests. On SQLite its threads share the test
    database's one in-memory connection (Django's live server does so for SQLite): two
    requests at once (a customer page's htmx sections load together) then deadlocked in
    SQLite. There it runs one request's application at a time; connections (keep-alive
    included) still get their own threads. PostgreSQL gives each thread its connection."""

    def set_app(self, application):
        if connection.vendor == "sqlite":
            lock = threading.Lock()
            inner = application

            def application(environ, start_response):
                with lock:
                    return inner(environ, start_response)

        super().set_app(application)


testcases.LiveServerThread.server_class = _LiveServer


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path_factory):
    # Each test starts with an empty cache: rate-limit and sign-in counters left by earlier
    # tests would otherwise fill the local-memory cache, whose culling (past 300 keys) then
    # dropped a counter mid-test (a rate-limit test saw a fourth request pass).
    cache.clear()
    # Hashing with the production hasher costs ~0.3 s per user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Suites call the API far faster than any client should; the rate-limit tests set
    # their own limits.
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    settings.API_CLIENT_RATE_LIMIT_PER_MINUTE = 100_000
    # Uploaded import files go to a directory of the test's own.
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    # Pages render {% static %} without a collectstatic manifest in tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(organization):
    return MembershipFactory(organization=organization, role="owner", user__username="owner").user


@pytest.fixture
def member(organization):
    return MembershipFactory(organization=organization, role="member", user__username="member").user


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(name="Other", slug="other")


@pytest.fixture
def outsider(other_organization):
    """A merchant of another organization: must never see or touch ours."""
    return MembershipFactory(
        organization=other_organization, role="owner", user__username="outsider"
    ).user


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; the PostgreSQL run of the suite covers it")


# --- API: tokens, an authenticated test client, the real polar-sdk client -------------

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

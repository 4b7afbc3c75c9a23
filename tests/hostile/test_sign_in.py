"""Sign-in protection in an unlucky deployment: gunicorn on a unix socket behind a proxy
(scripts/serve.sh's `BIND=unix:/run/customers/web.sock`) with `BEHIND_PROXY` left at its
default. Gunicorn gives every such request REMOTE_ADDR "", so no address was counted: the
per-address lock never held (guess one password per username, as many usernames as you
like), and every buyer shared one per-IP API rate limit."""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import SignInLock
from core.clients import client_address
from tests.accounts.test_sign_in_protection import (
    LOCKED,
    is_signed_in,
    sign_in,
    wait_out_the_pause,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unix_socket_without_behind_proxy(settings):
    settings.BEHIND_PROXY = False


def over_the_socket(client, username, password, forwarded_for):
    return sign_in(client, username, password, address="", HTTP_X_FORWARDED_FOR=forwarded_for)


def test_over_a_unix_socket_the_client_is_the_proxys_last_forwarded_address(rf):
    request = rf.get("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_address(request) == "203.0.113.5"
    # Over TCP without BEHIND_PROXY the header is still the client's own words.
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_address(request) == "10.0.0.1"


def test_over_a_unix_socket_each_client_address_is_counted_and_locked(client, owner, settings):
    settings.SIGN_IN_ADDRESS_MAX_FAILURES = 3
    for n in range(3):
        over_the_socket(client, f"guess-{n}", "x", "192.0.2.1")
        wait_out_the_pause()
    assert SignInLock.objects.filter(kind="address", key="192.0.2.1").exists()
    assert LOCKED in over_the_socket(client, "owner", PASSWORD, "192.0.2.1").text
    other = Client()
    over_the_socket(other, "owner", PASSWORD, "192.0.2.2")
    assert is_signed_in(other)


def test_over_a_unix_socket_buyers_do_not_share_one_rate_limit(client, settings, organization):
    settings.API_CLIENT_RATE_LIMIT_PER_MINUTE = 2
    cache.clear()
    url = "/v1/checkouts/client/polar_c_nothing"
    for _ in range(3):
        client.get(url, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="192.0.2.1")
    response = client.get(url, REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert response.status_code == 404  # not the first buyer's 429


# --- Guesses sent all at once ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_at_once_get_no_more_password_checks_than_one_after_another(
    postgres_only, owner, settings
):
    """The pause and the lock were checked before the password and counted after it, so
    tries sent in parallel all passed the check: a burst had every guess checked, however
    many (one per worker process at a time), where one client after another gets two
    checked (a first slip is free) and is then told to wait."""
    from tests.customers.test_concurrency import race

    # A pause longer than any test run: on a loaded machine the burst may take longer than
    # the default half second, after which a third check is rightly allowed.
    settings.SIGN_IN_SLOWDOWN_SECONDS = settings.SIGN_IN_SLOWDOWN_MAX_SECONDS = 600

    def guess(i):
        return (
            Client()
            .post(
                "/login/", {"username": "owner", "password": f"guess-{i}"}, REMOTE_ADDR="192.0.2.1"
            )
            .status_code
        )

    statuses = race(guess, n=8)
    assert statuses.count(200) <= 2, statuses  # the rest refused (429) without a check


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_tries_of_many_usernames_from_one_address_never_errors(
    postgres_only, owner, settings
):
    settings.SIGN_IN_SLOWDOWN_SECONDS = 0  # no pauses: as many checks at once as possible
    from tests.customers.test_concurrency import race

    def guess(i):
        username, password = ("owner", PASSWORD) if i % 3 == 0 else (f"guess-{i % 4}", "x")
        return (
            Client()
            .post("/login/", {"username": username, "password": password}, REMOTE_ADDR="192.0.2.1")
            .status_code
        )

    statuses = race(guess, n=16)
    assert set(statuses) <= {200, 302, 429}, statuses
    assert 302 in statuses  # the owner, with the right password, got in

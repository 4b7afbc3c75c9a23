"""Rate limits: per token, and per client IP for the buyer's endpoints."""

import pytest
from django.core.cache import cache
from polar.base import PolarRateLimitError

from checkouts.services import checkout_create
from tests.factories import ProductFactory


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_the_request_after_the_limit_is_a_429_that_polar_sdk_understands(sdk, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 5
    for _ in range(5):
        sdk.customers.list()
    with pytest.raises(PolarRateLimitError) as error:
        sdk.customers.list()
    assert error.value.status_code == 429
    assert 1 <= error.value.retry_after <= 60


@pytest.mark.django_db
def test_tokens_have_separate_counters(api, make_token, organization, settings):
    from django.test import Client

    settings.API_RATE_LIMIT_PER_MINUTE = 2
    assert [api.get("/v1/customers/").status_code for _ in range(3)] == [200, 200, 429]
    other = Client(headers={"Authorization": f"Bearer {make_token(organization)}"})
    assert other.get("/v1/customers/").status_code == 200
    limited = api.get("/v1/customers/")
    assert limited.json() == {
        "error": "TooManyRequests",
        "detail": "Rate limit exceeded; retry later.",
    }
    assert int(limited["Retry-After"]) >= 1


@pytest.mark.django_db
def test_the_buyers_endpoints_are_limited_per_address(client, organization, settings):
    settings.API_CLIENT_RATE_LIMIT_PER_MINUTE = 3
    checkout = checkout_create(
        organization=organization, product=ProductFactory(organization=organization)
    )
    url = f"/v1/checkouts/client/{checkout.client_secret}"
    statuses = [client.get(url, REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(url, REMOTE_ADDR="203.0.113.8").status_code == 200


@pytest.mark.django_db
def test_a_client_behind_our_proxy_cannot_pick_its_address(client, organization, settings):
    """Only the last X-Forwarded-For entry is our proxy's; earlier ones are the client's."""
    settings.API_CLIENT_RATE_LIMIT_PER_MINUTE = 2
    settings.BEHIND_PROXY = True
    checkout = checkout_create(
        organization=organization, product=ProductFactory(organization=organization)
    )
    url = f"/v1/checkouts/client/{checkout.client_secret}"
    statuses = [
        client.get(
            url, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7"
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_one_ipv6_client_is_one_slash_64(client, organization, settings):
    settings.API_CLIENT_RATE_LIMIT_PER_MINUTE = 2
    checkout = checkout_create(
        organization=organization, product=ProductFactory(organization=organization)
    )
    url = f"/v1/checkouts/client/{checkout.client_secret}"
    statuses = [client.get(url, REMOTE_ADDR=f"2001:db8:1:2::{i}").status_code for i in range(1, 4)]
    assert statuses == [200, 200, 429]

"""The API attacked with hostile input: every answer a 4xx in JSON, never a 500 or a
503 that reports a database outage that is not one."""

import pytest

from tests.factories import CustomerFactory, ProductFactory
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

# SQLite refuses a LIKE pattern over 50,000 bytes ("LIKE or GLOB pattern too complex"),
# which the API reported as a database outage (503) on the default deployment.
LONG = "a" * 60_000


@pytest.fixture
def rows(organization):
    CustomerFactory(organization=organization, name="Ada", email="ada@example.com")
    ProductFactory(organization=organization, name="Plan")
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://example.com/h", events=["customer.created"]
    )
    event = WebhookEvent.objects.create(
        organization=organization, type="customer.created", payload={}
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event)
    WebhookAttempt.objects.create(delivery=delivery, succeeded=False, duration_ms=1, error="x")


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/customers/?query={LONG}",
        f"/v1/customers/?email={LONG}",
        f"/v1/products/?query={LONG}",
        f"/v1/webhooks/deliveries?query={LONG}",
    ],
    ids=["customers-query", "customers-email", "products-query", "deliveries-query"],
)
def test_a_search_text_too_long_to_search_is_a_422(api, rows, path):
    response = api.get(path)
    assert response.status_code == 422, response.content[:200]
    assert response.json()["error"] == "PolarRequestValidationError"

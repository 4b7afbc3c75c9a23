"""Every API operation: no token is a 401, another organization's token never reaches our
rows. The walk over the OpenAPI document fails when an operation is added without an
entry here."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from activity.models import Note
from activity.services import note_add
from checkouts.services import checkout_create
from config.api import api as ninja_api
from customers.models import Customer
from imports.services import import_create
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory
from tests.portal.test_access import PORTAL_OPERATIONS
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(organization):
    customer = CustomerFactory(
        organization=organization,
        external_id="usr_1",
        email="ours@example.com",
        metadata={"plan": "pro"},
    )
    product = ProductFactory(organization=organization)
    subscription = SubscriptionFactory(customer=customer, product=product)
    order = OrderFactory(customer=customer, product=product, subscription=subscription)
    checkout = checkout_create(organization=organization, product=product)
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=["order.paid"]
    )
    event = WebhookEvent.objects.create(
        organization=organization, type="order.paid", payload={"type": "order.paid"}
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, status="failed", attempts=9
    )
    WebhookAttempt.objects.create(delivery=delivery, succeeded=False, duration_ms=5, error="x")
    note = note_add(customer=customer, body="Ours")
    customer_import = import_create(
        organization=organization,
        file=SimpleUploadedFile("ours.csv", b"email\nours@example.com\n"),
    )
    return {
        "customer-imports": customer_import.pk,
        "note": note.pk,
        "checkout": checkout.pk,
        "webhooks/endpoints": endpoint.pk,
        "webhooks/events": event.pk,
        "customer": customer.pk,
        "external_id": "usr_1",
        "order": order.pk,
        "subscription": subscription.pk,
        "product": product.pk,
    }


# (method, path template) -> (body, what an outsider gets: 404, or "list" for a 200
# whose items must not include our rows)
OPERATIONS = {
    ("get", "/v1/customers/"): (None, "list"),
    ("post", "/v1/customers/"): ({"email": "ours@example.com", "external_id": "usr_1"}, "own"),
    ("get", "/v1/customers/export"): (None, "csv"),
    ("get", "/v1/customers/{id}"): (None, 404),
    ("patch", "/v1/customers/{id}"): ({"name": "Hijacked"}, 404),
    ("delete", "/v1/customers/{id}"): (None, 404),
    ("get", "/v1/customers/{id}/state"): (None, 404),
    ("get", "/v1/customers/external/{external_id}"): (None, 404),
    ("patch", "/v1/customers/external/{external_id}"): ({"name": "Hijacked"}, 404),
    ("delete", "/v1/customers/external/{external_id}"): (None, 404),
    ("get", "/v1/customers/external/{external_id}/state"): (None, 404),
    ("get", "/v1/customers/{id}/timeline"): (None, 404),
    ("get", "/v1/customers/external/{external_id}/timeline"): (None, 404),
    ("post", "/v1/customers/{id}/notes"): ({"body": "Hijacked"}, 404),
    ("patch", "/v1/customers/{id}/notes/{note_id}"): ({"body": "Hijacked"}, 404),
    ("delete", "/v1/customers/{id}/notes/{note_id}"): (None, 404),
    ("post", "/v1/customers/external/{external_id}/notes"): ({"body": "Hijacked"}, 404),
    ("patch", "/v1/customers/external/{external_id}/notes/{note_id}"): ({"body": "x"}, 404),
    ("delete", "/v1/customers/external/{external_id}/notes/{note_id}"): (None, 404),
    ("get", "/v1/customers/{id}/data-export"): (None, 404),
    ("get", "/v1/customers/external/{external_id}/data-export"): (None, 404),
    ("post", "/v1/customers/{id}/erase"): (None, 404),
    ("post", "/v1/customers/external/{external_id}/erase"): (None, 404),
    ("get", "/v1/customers/duplicates"): (None, "list"),
    ("post", "/v1/customers/{id}/merge-preview"): (
        {"from_customer_id": "0190f0a0-0000-7000-8000-000000000001"},
        404,
    ),
    ("post", "/v1/customers/{id}/merge"): (
        {"from_customer_id": "0190f0a0-0000-7000-8000-000000000001"},
        404,
    ),
    ("get", "/v1/orders/"): (None, "list"),
    ("get", "/v1/orders/{id}"): (None, 404),
    ("get", "/v1/subscriptions/"): (None, "list"),
    ("get", "/v1/subscriptions/{id}"): (None, 404),
    ("patch", "/v1/subscriptions/{id}"): ({"revoke": True}, 404),
    ("delete", "/v1/subscriptions/{id}"): (None, 404),
    ("get", "/v1/products/"): (None, "list"),
    ("post", "/v1/products/"): (
        {"name": "P", "prices": [{"amount_type": "fixed", "price_amount": 100}]},
        "own",
    ),
    ("get", "/v1/products/{id}"): (None, 404),
    ("patch", "/v1/products/{id}"): ({"is_archived": True}, 404),
    ("get", "/v1/checkouts/"): (None, "list"),
    ("post", "/v1/checkouts/"): ({"products": ["{product}"]}, 422),
    ("get", "/v1/checkouts/{id}"): (None, 404),
    ("patch", "/v1/checkouts/{id}"): ({"customer_name": "Hijacked"}, 404),
    ("get", "/v1/webhooks/endpoints"): (None, "list"),
    ("post", "/v1/webhooks/endpoints"): (
        {"url": "https://1.1.1.1/hooks", "format": "raw", "events": ["order.paid"]},
        "own",
    ),
    ("get", "/v1/webhooks/endpoints/{id}"): (None, 404),
    ("patch", "/v1/webhooks/endpoints/{id}"): ({"enabled": False}, 404),
    ("delete", "/v1/webhooks/endpoints/{id}"): (None, 404),
    ("patch", "/v1/webhooks/endpoints/{id}/secret"): (None, 404),
    ("get", "/v1/webhooks/deliveries"): (None, "list"),
    ("post", "/v1/webhooks/events/{id}/redeliver"): (None, 404),
    # A JSON body where the upload takes multipart: refused whoever sends it (the
    # multipart upload's own tests are in tests/imports/test_api.py).
    ("post", "/v1/customer-imports/"): ({"file": "x"}, "refused"),
    ("get", "/v1/customer-imports/{id}"): (None, 404),
    ("get", "/v1/customer-imports/{id}/errors"): (None, 404),
    ("post", "/v1/customer-imports/{id}/apply"): ({"skip_errors": True}, 404),
    ("post", "/v1/customer-imports/{id}/cancel"): (None, 404),
    # Our customer means nothing to them: a 422 naming the field.
    ("post", "/v1/customer-sessions/"): ({"external_customer_id": "usr_1"}, "refused"),
    # Figures of their own organization only: none of our orders in them.
    ("get", "/v1/metrics/"): (None, "metrics"),
    ("get", "/v1/metrics/limits"): (None, "limits"),
}

# The buyer's endpoints take no token: the checkout's client secret is the key. Without
# the secret they are 404; the tests in tests/checkouts/ cover them with it.
CLIENT_OPERATIONS = {
    ("get", "/v1/checkouts/client/{client_secret}"),
    ("patch", "/v1/checkouts/client/{client_secret}"),
    ("post", "/v1/checkouts/client/{client_secret}/confirm"),
}

RESOURCE = {
    "customers": "customer",
    "orders": "order",
    "subscriptions": "subscription",
    "products": "product",
    "checkouts": "checkout",
    "webhooks/endpoints": "webhooks/endpoints",
    "webhooks/deliveries": None,  # a list only
    "webhooks/events": "webhooks/events",
    "customer-imports": "customer-imports",
    "customer-sessions": None,  # a create only
    "metrics": None,
}
# Every year since metrics begin: whatever the rows' dates, they are in the range.
METRICS_RANGE = "?start_date=2000-01-01&end_date=2099-12-31&interval=year"


def test_every_api_operation_has_access_tests():
    schema = ninja_api.get_openapi_schema()
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    # The customer portal takes a customer session token, not an organization's: its
    # operations have their own walk, in tests/portal/test_access.py.
    assert operations == set(OPERATIONS) | CLIENT_OPERATIONS | set(PORTAL_OPERATIONS)


@pytest.mark.parametrize(("method", "path"), sorted(CLIENT_OPERATIONS))
def test_client_operations_without_the_secret_are_404(client, method, path):
    body = None if method == "get" else {}
    response = call(client, method, path.format(client_secret="polar_c_guess"), body)
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}


def url(path: str, rows) -> str:
    parts = path.split("/")
    # Webhook paths name their resource in two segments: /v1/webhooks/endpoints/{id}.
    resource = RESOURCE["/".join(parts[2:4]) if parts[2] == "webhooks" else parts[2]]
    if path == "/v1/metrics/":
        return path + METRICS_RANGE
    return path.format(
        id=rows.get(resource), external_id=rows["external_id"], note_id=rows.get("note")
    )


def call(client, method, path, body, rows=None, **headers):
    kwargs = {"headers": headers}
    if body and rows and "products" in body:  # a product of ours, by ID
        body = {"products": [str(rows["product"])]}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, **kwargs)


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_no_token_is_a_401_with_polars_error_body(client, rows, method, path):
    body, _ = OPERATIONS[(method, path)]
    response = call(client, method, url(path, rows), body, rows)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "A valid access token is required.",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_a_malformed_token_is_a_401(client, rows, method, path):
    body, _ = OPERATIONS[(method, path)]
    response = call(client, method, url(path, rows), body, Authorization="Bearer polar_oat_nope")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_another_organizations_token_never_reaches_our_rows(
    client, rows, outsider_token, method, path, organization
):
    body, outcome = OPERATIONS[(method, path)]
    before = list(Customer.objects.values_list("pk", "name", "email", "external_id", "deleted_at"))
    endpoints_before = list(
        WebhookEndpoint.objects.order_by("pk").values_list("pk", "enabled", "secret")
    )
    deliveries_before = list(
        WebhookDelivery.objects.order_by("pk").values_list("pk", "status", "attempts")
    )
    response = call(
        client, method, url(path, rows), body, rows, Authorization=f"Bearer {outsider_token}"
    )
    if outcome == 422:  # our product's ID means nothing to them
        assert response.status_code == 422
        assert response.json()["detail"][0]["msg"] == "No such product."
    elif outcome == 404:
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    elif outcome == "refused":
        assert response.status_code in (400, 422)
    elif outcome == "list":
        assert response.status_code == 200
        assert response.json()["items"] == []
    elif outcome == "metrics":
        assert response.status_code == 200
        assert response.json()["totals"]["orders"] == 0
    elif outcome == "limits":
        assert response.status_code == 200
    elif outcome == "csv":
        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode()
        assert "ours@example.com" not in text
    else:  # creating in their own organization: allowed, and lands there
        assert response.status_code == 201
        assert response.json()["organization_id"] != str(organization.pk)
    after = [
        row
        for row in Customer.objects.values_list("pk", "name", "email", "external_id", "deleted_at")
        if row[0] in {b[0] for b in before}
    ]
    assert after == before
    endpoints_after = list(
        WebhookEndpoint.objects.order_by("pk").values_list("pk", "enabled", "secret")
    )
    assert [e for e in endpoints_after if e[0] in {b[0] for b in endpoints_before}] == (
        endpoints_before
    )
    assert list(WebhookDelivery.objects.order_by("pk").values_list("pk", "status", "attempts")) == (
        deliveries_before
    )
    assert list(Note.objects.filter(customer_id=rows["customer"]).values_list("body")) == [
        ("Ours",)
    ]

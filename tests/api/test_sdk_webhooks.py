"""Webhook endpoints, the delivery log and redelivery through polar-sdk against a live
server, plus the query counts of the two lists."""

import contextlib
import json

import httpx
import pytest
from django.utils import timezone
from polar.base import PolarClientError
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound

from organizations.models import OrganizationAccessToken
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.worker import deliver_due

pytestmark = pytest.mark.django_db(transaction=True)

# A public address written as an IP: the SSRF check accepts it without a DNS lookup.
URL = "https://1.1.1.1/hooks"


@pytest.fixture
def sdk_with(live_server):
    """`sdk_with(token)`: a polar-sdk client with any token (closed after the test)."""
    with contextlib.ExitStack() as stack:
        yield lambda token: stack.enter_context(Polar(token, base_url=live_server.url, timeout=30))


def errors_of(exc_info) -> list[tuple[list, str]]:
    return [(list(d.loc), d.msg) for d in exc_info.value.error.detail]


def send_with(*responses):
    """An HTTP client for the worker that answers with `responses` in turn (status, body)
    and records each request."""
    sent, answers = [], list(responses)

    def handler(request):
        sent.append(request)
        status, body = answers.pop(0)
        return httpx.Response(status, text=body)

    return httpx.Client(transport=httpx.MockTransport(handler)), sent


# --- Endpoints ----------------------------------------------------------------------------


def test_create_returns_a_signing_secret_and_the_endpoint_lists_and_gets(sdk, organization):
    created = sdk.webhooks.create_webhook_endpoint(
        url=URL, format="raw", events=["customer.created", "customer.updated"]
    )
    assert created.secret.startswith("whsec_")
    assert (created.url, created.format, created.api_version) == (URL, "raw", "2026-10")
    assert created.events == ["customer.created", "customer.updated"]
    assert created.enabled is True
    assert created.uses_standard_webhook_signature is True
    assert created.organization_id == str(organization.pk)
    assert created.name is None

    listed = sdk.webhooks.list_webhook_endpoints()
    assert [e.id for e in listed.items] == [created.id]
    assert listed.pagination.total_count == 1
    fetched = sdk.webhooks.get_webhook_endpoint(created.id)
    assert (fetched.id, fetched.secret, fetched.events) == (
        created.id,
        created.secret,
        created.events,
    )
    stored = WebhookEndpoint.objects.get(pk=created.id)
    assert (stored.organization, stored.secret) == (organization, created.secret)


def test_update_changes_events_and_url_and_leaves_the_rest(sdk):
    created = sdk.webhooks.create_webhook_endpoint(
        url=URL, format="raw", events=["customer.created"]
    )
    updated = sdk.webhooks.update_webhook_endpoint(
        created.id, events=["order.paid", "order.created"]
    )
    assert updated.events == ["order.created", "order.paid"]
    assert (updated.url, updated.secret, updated.enabled) == (URL, created.secret, True)
    moved = sdk.webhooks.update_webhook_endpoint(created.id, url="https://1.0.0.1/in")
    assert (moved.url, moved.events) == ("https://1.0.0.1/in", ["order.created", "order.paid"])


def test_disabling_and_enabling_again_clears_the_reason(sdk):
    created = sdk.webhooks.create_webhook_endpoint(url=URL, format="raw", events=["order.paid"])
    assert sdk.webhooks.update_webhook_endpoint(created.id, enabled=False).enabled is False
    assert WebhookEndpoint.objects.get(pk=created.id).enabled is False
    WebhookEndpoint.objects.filter(pk=created.id).update(
        disabled_reason="Disabled after 25 failed attempts", consecutive_failures=25
    )
    assert sdk.webhooks.update_webhook_endpoint(created.id, enabled=True).enabled is True
    stored = WebhookEndpoint.objects.get(pk=created.id)
    assert (stored.enabled, stored.disabled_reason, stored.consecutive_failures) == (True, "", 0)


def test_resetting_the_secret_returns_a_new_one(sdk):
    created = sdk.webhooks.create_webhook_endpoint(url=URL, format="raw", events=["order.paid"])
    reset = sdk.webhooks.reset_webhook_endpoint_secret(created.id)
    assert reset.secret.startswith("whsec_")
    assert reset.secret != created.secret
    assert WebhookEndpoint.objects.get(pk=created.id).secret == reset.secret


def test_delete_removes_the_endpoint(sdk):
    created = sdk.webhooks.create_webhook_endpoint(url=URL, format="raw", events=["order.paid"])
    assert sdk.webhooks.delete_webhook_endpoint(created.id) is None
    with pytest.raises(ResourceNotFound):
        sdk.webhooks.get_webhook_endpoint(created.id)
    with pytest.raises(ResourceNotFound):
        sdk.webhooks.delete_webhook_endpoint(created.id)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "loc", "message"),
    [
        ({"url": "ftp://files.example.com/in"}, ["body", "url"], "Use an http:// or https://"),
        ({"url": "http://127.0.0.1:8000/in"}, ["body", "url"], "private, loopback"),
        ({"events": []}, ["body", "events"], "Choose at least one event type."),
        ({"name": "Billing"}, ["body", "name"], "names are not supported"),
    ],
    ids=["scheme", "private", "no-events", "name"],
)
def test_invalid_endpoints_are_422_at_the_field(sdk, kwargs, loc, message):
    body = {"url": URL, "format": "raw", "events": ["order.paid"], **kwargs}
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.webhooks.create_webhook_endpoint(**body)
    [(where, msg)] = errors_of(exc_info)
    assert where == loc
    assert message in msg
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"events": ["benefit.created"]}, {"format": "slack"}],
    ids=["event-we-never-send", "format"],
)
def test_what_this_server_does_not_offer_is_422(sdk, kwargs):
    body = {"url": URL, "format": "raw", "events": ["order.paid"], **kwargs}
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.webhooks.create_webhook_endpoint(**body)
    assert errors_of(exc_info)[0][0][:2] == ["body", next(iter(kwargs))]


# --- Deliveries and redelivery ------------------------------------------------------------


@pytest.fixture
def endpoint(organization):
    return services.endpoint_create(
        organization=organization, url=URL, events=["customer.created", "order.paid"]
    )


def test_the_delivery_log_lists_every_attempt_with_its_event(sdk, organization, endpoint):
    from customers import services as customer_services

    customer_services.customer_create(organization=organization, email="ada@example.com")
    client, sent = send_with((500, "boom"), (200, '{"ok": true}'))
    deliver_due(client=client)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    deliver_due(client=client)

    deliveries = sdk.webhooks.list_webhook_deliveries(endpoint_id=str(endpoint.pk))
    assert deliveries.pagination.total_count == 2
    newest, oldest = deliveries.items
    assert (newest.succeeded, newest.http_code, newest.response) == (True, 200, '{"ok": true}')
    assert (oldest.succeeded, oldest.http_code, oldest.response) == (False, 500, "boom")
    event = newest.webhook_event
    assert event.id == sent[0].headers["webhook-id"] == oldest.webhook_event.id
    assert (event.type, event.succeeded, event.last_http_code) == ("customer.created", True, 200)
    assert json.loads(event.payload)["data"]["email"] == "ada@example.com"
    assert event.payload.encode() == sent[1].content

    failed = sdk.webhooks.list_webhook_deliveries(succeeded=False)
    assert [d.id for d in failed.items] == [oldest.id]
    assert [d.id for d in sdk.webhooks.list_webhook_deliveries(http_code_class="5xx").items] == [
        oldest.id
    ]
    assert [d.id for d in sdk.webhooks.list_webhook_deliveries(query="BOOM").items] == [oldest.id]
    assert sdk.webhooks.list_webhook_deliveries(event_type="order.paid").items == []


def test_an_unreachable_endpoint_shows_the_error_as_the_response(sdk, organization, endpoint):
    from customers import services as customer_services

    customer_services.customer_create(organization=organization, email="ada@example.com")

    def refuse(request):
        raise httpx.ConnectError("refused")

    deliver_due(client=httpx.Client(transport=httpx.MockTransport(refuse)))
    [delivery] = sdk.webhooks.list_webhook_deliveries().items
    assert (delivery.succeeded, delivery.http_code, delivery.response) == (
        False,
        None,
        "ConnectError",
    )
    assert (delivery.webhook_event.succeeded, delivery.webhook_event.last_http_code) == (
        False,
        None,
    )


def test_redelivering_an_event_makes_its_delivery_pending_again(sdk, organization, endpoint):
    from customers import services as customer_services

    customer_services.customer_create(organization=organization, email="ada@example.com")
    WebhookDelivery.objects.update(status="failed", attempts=9, next_attempt_at=None)
    event = WebhookEvent.objects.get()

    sdk.webhooks.redeliver_webhook_event(str(event.pk))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.next_attempt_at is not None
    with pytest.raises(ResourceNotFound):
        sdk.webhooks.redeliver_webhook_event(str(endpoint.pk))


# --- Tenancy and scopes -------------------------------------------------------------------


def test_another_organizations_token_finds_nothing(sdk, outsider_sdk, organization, endpoint):
    from customers import services as customer_services

    customer_services.customer_create(organization=organization, email="ada@example.com")
    deliver_due(client=send_with((200, "ok"))[0])
    event = WebhookEvent.objects.get()
    theirs = str(endpoint.pk)

    for call in (
        lambda: outsider_sdk.webhooks.get_webhook_endpoint(theirs),
        lambda: outsider_sdk.webhooks.update_webhook_endpoint(theirs, enabled=False),
        lambda: outsider_sdk.webhooks.reset_webhook_endpoint_secret(theirs),
        lambda: outsider_sdk.webhooks.delete_webhook_endpoint(theirs),
        lambda: outsider_sdk.webhooks.redeliver_webhook_event(str(event.pk)),
    ):
        with pytest.raises(ResourceNotFound):
            call()
    assert outsider_sdk.webhooks.list_webhook_endpoints().items == []
    assert outsider_sdk.webhooks.list_webhook_deliveries(endpoint_id=theirs).items == []
    assert (
        outsider_sdk.webhooks.list_webhook_endpoints(organization_id=str(organization.pk)).items
        == []
    )
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (stored.enabled, stored.secret) == (True, endpoint.secret)
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(sdk.webhooks.list_webhook_deliveries().items) == 1


def test_a_read_only_token_cannot_write(sdk_with, make_token, organization, endpoint):
    read_only = sdk_with(make_token(organization, scopes=["webhooks:read"]))
    assert [e.id for e in read_only.webhooks.list_webhook_endpoints().items] == [str(endpoint.pk)]

    for call in (
        lambda: read_only.webhooks.create_webhook_endpoint(
            url=URL, format="raw", events=["order.paid"]
        ),
        lambda: read_only.webhooks.update_webhook_endpoint(str(endpoint.pk), enabled=False),
        lambda: read_only.webhooks.reset_webhook_endpoint_secret(str(endpoint.pk)),
        lambda: read_only.webhooks.delete_webhook_endpoint(str(endpoint.pk)),
    ):
        with pytest.raises(PolarClientError) as exc_info:
            call()
        assert exc_info.value.status_code == 403
        assert "webhooks:write" in json.loads(exc_info.value.error)["detail"]
    stored = WebhookEndpoint.objects.get()
    assert (stored.enabled, stored.secret) == (True, endpoint.secret)


def test_a_token_without_webhook_scopes_cannot_read(sdk_with, make_token, organization):
    customers_only = sdk_with(make_token(organization, scopes=["customers:read"]))
    for call in (
        customers_only.webhooks.list_webhook_endpoints,
        customers_only.webhooks.list_webhook_deliveries,
    ):
        with pytest.raises(PolarClientError) as exc_info:
            call()
        assert exc_info.value.status_code == 403


# --- Query counts -------------------------------------------------------------------------


@pytest.fixture
def log(organization):
    """30 endpoints, and 30 attempts of 30 events to the first one."""
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    endpoints = [
        WebhookEndpoint.objects.create(
            organization=organization, url=f"https://1.1.1.1/{i}", events=["order.paid"]
        )
        for i in range(30)
    ]
    for i in range(30):
        event = WebhookEvent.objects.create(
            organization=organization, type="order.paid", payload={"type": "order.paid", "n": i}
        )
        delivery = WebhookDelivery.objects.create(endpoint=endpoints[0], event=event, attempts=1)
        WebhookAttempt.objects.create(
            delivery=delivery, succeeded=i % 2 == 0, status_code=200, duration_ms=3
        )


@pytest.mark.parametrize("path", ["/v1/webhooks/endpoints", "/v1/webhooks/deliveries"])
@pytest.mark.parametrize("limit", [1, 30])
def test_list_query_count_does_not_depend_on_page_size(
    token, api, log, path, limit, django_assert_num_queries
):
    # the token with its organization, the count, one page of rows (deliveries: joined to
    # their delivery and event, with the newest attempt's status code as a subquery)
    with django_assert_num_queries(3):
        response = api.get(path, {"limit": limit})
    assert response.status_code == 200
    assert len(response.json()["items"]) == limit

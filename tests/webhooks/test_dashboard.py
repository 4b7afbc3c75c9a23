"""Settings → Webhooks: endpoints (add, edit, switch off and on, rotate, delete) and the
delivery log, as an owner uses them; and the whole path from a dashboard edit to a signed
request at a real receiver."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from polar.v2026_10.webhooks import validate_event

from customers import services as customer_services
from tests.factories import CustomerFactory
from webhooks import services
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.worker import deliver_due

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def endpoint(organization, receiver):
    return services.endpoint_create(
        organization=organization, url=receiver.url, events=list(EventType.values)
    )


def endpoints_url(organization):
    return reverse("webhooks:endpoints", args=[organization.slug])


def endpoint_url(name, endpoint, *extra):
    return reverse(f"webhooks:{name}", args=[endpoint.organization.slug, endpoint.pk, *extra])


def log_url(endpoint, **params):
    url = endpoint_url("endpoint", endpoint)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{url}?{query}" if query else url


def secrets_in(html: str) -> list[str]:
    return re.findall(r"whsec_[A-Za-z0-9+/=]+", html)


def attempts_in(response) -> list[WebhookAttempt]:
    return response.context["page"].rows


def send_all():
    """Run the worker until nothing is due, moving retries forward as if time passed."""
    while True:
        WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        if not deliver_due():
            return


# --- Endpoints ----------------------------------------------------------------------------


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(merchant, organization, receiver):
    response = merchant.post(
        endpoints_url(organization),
        {"url": receiver.url, "events": ["customer.created", "customer.updated"]},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.organization, endpoint.url) == (organization, receiver.url)
    assert endpoint.events == ["customer.created", "customer.updated"]
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in secrets_in(response.text)
    assert f'data-copy="{endpoint.secret}"' in response.text
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]

    again = merchant.get(endpoints_url(organization))
    assert secrets_in(again.text) == []
    assert receiver.url in again.text
    assert "Enabled" in again.text


def test_select_all_subscribes_to_every_event_type(merchant, organization, receiver):
    merchant.post(endpoints_url(organization), {"url": receiver.url, "all_events": "on"})
    assert WebhookEndpoint.objects.get().events == sorted(EventType.values)


def test_errors_show_beside_the_url_and_the_events(merchant, organization):
    response = merchant.post(endpoints_url(organization), {"url": "not a url"})
    assert response.status_code == 422
    html = response.text
    assert 'id="id_url_error"' in html
    assert "Enter a valid URL." in html
    assert 'id="id_events_error"' in html
    assert "Choose at least one event type." in html
    assert html.index("id_url_error") < html.index('name="url"')
    assert secrets_in(html) == []
    assert not WebhookEndpoint.objects.exists()


def test_the_services_url_rules_land_beside_the_url(merchant, organization, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = merchant.post(
        endpoints_url(organization), {"url": "http://127.0.0.1:9/hooks", "events": ["order.paid"]}
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "private, loopback or link-local" in errors["url"][0]
    assert "events" not in errors
    assert 'value="http://127.0.0.1:9/hooks"' in response.text
    assert not WebhookEndpoint.objects.exists()


def test_an_owner_edits_the_url_and_the_events(merchant, endpoint, receiver):
    page = merchant.get(endpoint_url("endpoint_edit", endpoint))
    assert page.status_code == 200
    assert f'value="{receiver.url}"' in page.text
    assert 'id="id_all_events" checked' in page.text

    response = merchant.post(
        endpoint_url("endpoint_edit", endpoint),
        {"url": receiver.url + "/v2", "events": ["order.paid", "order.created"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == (
        receiver.url + "/v2",
        ["order.created", "order.paid"],
    )
    assert "saved" in merchant.get(response.url).text


def test_a_bad_edit_shows_the_error_and_changes_nothing(merchant, endpoint, receiver):
    response = merchant.post(
        endpoint_url("endpoint_edit", endpoint), {"url": "ftp://files.example.com/x"}
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert errors["events"] == ["Choose at least one event type."]
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == (receiver.url, sorted(EventType.values))


def test_an_owner_disables_and_enables_an_endpoint(merchant, endpoint):
    response = merchant.post(endpoint_url("endpoint_disable", endpoint))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "Disabled" in merchant.get(response.url).text

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_automatically=True,
        disabled_reason="Disabled on 2026-10-01 10:00 UTC after 25 failed attempts in a row "
        "(last: HTTP 500).",
        consecutive_failures=25,
    )
    page = merchant.get(endpoints_url(endpoint.organization)).text
    assert '<p class="alert error" role="status">Disabled on 2026-10-01 10:00 UTC' in page
    assert "Disabled on 2026-10-01" in merchant.get(log_url(endpoint)).text

    merchant.post(endpoint_url("endpoint_enable", endpoint))
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_reason, endpoint.consecutive_failures) == (
        True,
        "",
        0,
    )


def test_rotating_the_secret_shows_the_new_one_once(merchant, endpoint):
    old = endpoint.secret
    response = merchant.post(endpoint_url("endpoint_rotate_secret", endpoint))
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert secrets_in(response.text) == [endpoint.secret, endpoint.secret]  # field and copy
    assert "New signing secret" in response.text
    assert secrets_in(merchant.get(endpoints_url(endpoint.organization)).text) == []


def test_deleting_an_endpoint_asks_first_and_then_removes_it(merchant, endpoint):
    page = merchant.get(endpoints_url(endpoint.organization)).text
    assert "<summary" in page and "Delete for good" in page
    response = merchant.post(endpoint_url("endpoint_delete", endpoint))
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert "deleted" in merchant.get(response.url).text


def test_the_endpoints_page_query_count_is_pinned(
    merchant, organization, django_assert_num_queries
):
    for i in range(5):
        WebhookEndpoint.objects.create(
            organization=organization, url=f"https://1.1.1.1/{i}", events=["order.paid"]
        )
    # session, user, memberships, the endpoints
    with django_assert_num_queries(4):
        response = merchant.get(endpoints_url(organization))
    assert response.text.count("Delivery log</a>") == 5


# --- The delivery log ---------------------------------------------------------------------


@pytest.fixture
def two_attempts(organization, endpoint, receiver):
    """customer.created fails once with a 500 and then succeeds; others just succeed."""
    endpoint.events = ["customer.created"]
    endpoint.save()
    receiver.statuses = [500]
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    send_all()
    return customer


def test_the_log_shows_each_attempt_with_status_excerpt_and_outcome(
    merchant, endpoint, two_attempts
):
    response = merchant.get(log_url(endpoint))
    assert response.status_code == 200
    newest, oldest = attempts_in(response)
    assert (newest.status_code, newest.succeeded) == (200, True)
    assert (oldest.status_code, oldest.succeeded) == (500, False)
    html = response.text
    assert "customer.created" in html
    assert "<details>" in html and "{&quot;received&quot;: 500}" in html
    assert "Succeeded" in html and "Failed" in html
    assert f"{oldest.duration_ms} ms" in html


def test_the_log_filters_by_outcome_also_over_htmx(merchant, endpoint, two_attempts):
    failed = merchant.get(log_url(endpoint, status="failed"))
    assert [a.status_code for a in attempts_in(failed)] == [500]
    succeeded = merchant.get(log_url(endpoint, status="succeeded"), headers=HTMX)
    assert [a.status_code for a in attempts_in(succeeded)] == [200]
    assert succeeded.text.strip().startswith('<section id="delivery-log"')
    assert "<html" not in succeeded.text
    assert "HX-Request" in succeeded["Vary"]
    assert merchant.get(log_url(endpoint, status="nope")).status_code == 400


def test_an_unreachable_endpoint_shows_the_error(merchant, organization, receiver):
    endpoint = services.endpoint_create(
        organization=organization, url="http://127.0.0.1:9/closed", events=["customer.created"]
    )
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()
    html = merchant.get(log_url(endpoint)).text
    assert "ConnectError" in html
    assert "Failed" in html


def test_the_log_filters_by_customer(merchant, organization, endpoint, receiver):
    ada = customer_services.customer_create(organization=organization, email="ada@x.io")
    bea = customer_services.customer_create(organization=organization, email="bea@x.io")
    send_all()
    response = merchant.get(log_url(endpoint, customer=ada.pk))
    events = {a.delivery.event for a in attempts_in(response)}
    assert events and {e.customer_id for e in events} == {ada.pk}
    assert str(ada.pk) in response.text
    everyone = merchant.get(log_url(endpoint))
    assert {a.delivery.event.customer_id for a in attempts_in(everyone)} == {ada.pk, bea.pk}
    assert merchant.get(log_url(endpoint, customer="not-a-uuid")).status_code == 400


def test_redeliver_makes_the_delivery_pending_again(merchant, endpoint, two_attempts):
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    back = log_url(endpoint, status="failed")
    response = merchant.post(
        endpoint_url("delivery_redeliver", endpoint, delivery.pk), {"next": back}
    )
    assert response.status_code == 302
    assert response.url == back
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.next_attempt_at is not None
    assert "will be sent again" in merchant.get(response.url).text


def test_redeliver_never_sends_the_visitor_elsewhere(merchant, endpoint, two_attempts):
    delivery = WebhookDelivery.objects.get()
    response = merchant.post(
        endpoint_url("delivery_redeliver", endpoint, delivery.pk),
        {"next": "https://evil.example.com/"},
    )
    assert response.url == log_url(endpoint)


def test_the_log_pages_by_cursor_without_repeats(merchant, organization, endpoint):
    customer_services.customer_create(organization=organization, email="a@x.io")
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(delivery=delivery, succeeded=True, status_code=200, duration_ms=i)
        for i in range(60)
    )
    first = merchant.get(log_url(endpoint))
    assert len(attempts_in(first)) == 50
    older = first.context["older_url"]
    assert older and "cursor=" in older
    second = merchant.get(older, headers=HTMX)
    assert len(attempts_in(second)) == 10
    assert second.context["older_url"] is None
    assert second.context["newest_url"] == log_url(endpoint)
    seen = {a.pk for a in attempts_in(first)} | {a.pk for a in attempts_in(second)}
    assert len(seen) == 60


@pytest.mark.parametrize("count", [1, 30])
def test_the_log_query_count_does_not_grow_with_attempts(
    merchant, organization, endpoint, receiver, count, django_assert_num_queries
):
    for i in range(count):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(events=["customer.created"])
    WebhookDelivery.objects.exclude(event__type="customer.created").delete()
    send_all()
    # session, user, memberships, the endpoint, one page of attempts joined to their
    # delivery and event
    with django_assert_num_queries(5):
        response = merchant.get(log_url(endpoint))
    assert len(attempts_in(response)) == count


# --- Access -------------------------------------------------------------------------------


@pytest.fixture
def their_endpoint(other_organization):
    endpoint = WebhookEndpoint.objects.create(
        organization=other_organization, url="https://1.1.1.1/theirs", events=["order.paid"]
    )
    return endpoint


ENDPOINT_PAGES = [
    ("get", "endpoint"),
    ("get", "endpoint_edit"),
    ("post", "endpoint_edit"),
    ("post", "endpoint_enable"),
    ("post", "endpoint_disable"),
    ("post", "endpoint_rotate_secret"),
    ("post", "endpoint_delete"),
]


@pytest.mark.parametrize(("method", "name"), ENDPOINT_PAGES)
def test_another_organizations_endpoint_is_404_under_my_slug(
    merchant, organization, their_endpoint, method, name
):
    url = reverse(f"webhooks:{name}", args=[organization.slug, their_endpoint.pk])
    response = getattr(merchant, method)(url, {"url": "https://1.1.1.1/x", "all_events": "on"})
    assert response.status_code == 404
    stored = WebhookEndpoint.objects.get(pk=their_endpoint.pk)
    assert (stored.url, stored.enabled, stored.secret) == (
        "https://1.1.1.1/theirs",
        True,
        their_endpoint.secret,
    )


def test_another_endpoints_delivery_is_404(merchant, organization, endpoint, their_endpoint):
    customer_services.customer_create(organization=organization, email="a@x.io")
    mine = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    other = services.endpoint_create(
        organization=organization, url="https://1.1.1.1/other", events=["order.paid"]
    )
    response = merchant.post(endpoint_url("delivery_redeliver", other, mine.pk))
    assert response.status_code == 404
    url = reverse(
        "webhooks:delivery_redeliver",
        args=[organization.slug, their_endpoint.pk, mine.pk],
    )
    assert merchant.post(url).status_code == 404
    assert WebhookDelivery.objects.get(pk=mine.pk).next_attempt_at == mine.next_attempt_at


def test_members_get_403(client, member, organization, endpoint):
    client.force_login(member)
    assert client.get(endpoints_url(organization)).status_code == 403
    response = client.get(log_url(endpoint))
    assert response.status_code == 403
    assert "Only owners can open this page" in response.text
    assert client.post(endpoint_url("endpoint_delete", endpoint)).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert (
        "Webhooks</a>" not in client.get(reverse("customers:list", args=[organization.slug])).text
    )


def test_outsiders_get_404(client, outsider, organization, endpoint):
    client.force_login(outsider)
    assert client.get(endpoints_url(organization)).status_code == 404
    assert client.get(log_url(endpoint)).status_code == 404
    assert client.post(endpoint_url("endpoint_rotate_secret", endpoint)).status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_anonymous_visitors_are_sent_to_sign_in(client, organization, endpoint):
    for response in (client.get(endpoints_url(organization)), client.get(log_url(endpoint))):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


# --- The customer page links to the log -------------------------------------------------


def test_owners_see_a_link_to_webhook_deliveries_about_the_customer(
    client, owner, member, organization
):
    customer = CustomerFactory(organization=organization)
    detail = reverse("customers:detail", args=[organization.slug, customer.pk])
    client.force_login(owner)
    assert "Webhook deliveries about this customer" not in client.get(detail).text

    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://1.1.1.1/a", events=["customer.updated"]
    )
    assert f"{log_url(endpoint)}?customer={customer.pk}" in client.get(detail).text
    second = WebhookEndpoint.objects.create(
        organization=organization, url="https://1.1.1.1/b", events=["customer.updated"]
    )
    html = client.get(detail).text
    assert f"{log_url(endpoint)}?customer={customer.pk}" in html
    assert f"{log_url(second)}?customer={customer.pk}" in html

    client.force_login(member)
    assert "Webhook deliveries about this customer" not in client.get(detail).text


# --- End to end ---------------------------------------------------------------------------


def test_a_metadata_edit_in_the_dashboard_reaches_the_receiver_signed(
    merchant, organization, receiver
):
    added = merchant.post(
        endpoints_url(organization), {"url": receiver.url, "events": ["customer.updated"]}
    )
    secret = added.context["secret_of"].secret
    endpoint = WebhookEndpoint.objects.get()
    customer = CustomerFactory(organization=organization, metadata={"plan": "free"})

    saved = merchant.post(
        reverse("customers:metadata", args=[organization.slug, customer.pk]),
        {"key": "seats", "type": "integer", "value": "5"},
    )
    assert saved.status_code == 302
    assert deliver_due() == 1

    [request] = receiver.requests
    event = validate_event(request["body"], request["headers"], secret)
    assert event.type == "customer.updated"
    assert event.data.id == str(customer.pk)
    assert event.data.metadata == {"plan": "free", "seats": 5}
    assert json.loads(request["body"])["data"]["metadata"] == {"plan": "free", "seats": 5}

    log = merchant.get(log_url(endpoint, customer=customer.pk))
    [attempt] = attempts_in(log)
    assert (attempt.succeeded, attempt.status_code) == (True, 200)
    assert str(attempt.delivery.event.pk) == request["headers"]["webhook-id"]
    assert "customer.updated" in log.text and "Succeeded" in log.text

"""Settings → Webhooks in a real browser: the disable confirmation says what it does, and
the delivery log shows attempts, what waits and what expired (each page pictured at both
widths by the conftest's goto)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from customers import services as customer_services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


@pytest.fixture
def endpoint_with_history(organization):
    """A failing endpoint with attempts, a delivery due later, and one that expired."""
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url="https://hooks.example.com/a-rather-long-path/for-customers/events",
        events=["customer.created", "customer.updated", "customer.state_changed"],
    )
    customer = customer_services.customer_create(
        organization=organization, email="watcher@example.com", name="Webhook Watcher"
    )
    customer_services.customer_update(customer=customer, name="Webhook Watcher II")
    now = timezone.now()
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at"))
    failed, later, expired = deliveries[0], deliveries[1], deliveries[-1]
    WebhookAttempt.objects.create(
        delivery=failed,
        succeeded=False,
        status_code=503,
        duration_ms=120,
        response_excerpt='{"error": "maintenance"}',
    )
    WebhookAttempt.objects.create(delivery=failed, succeeded=True, status_code=200, duration_ms=80)
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="succeeded", attempts=2)
    WebhookAttempt.objects.create(
        delivery=later, succeeded=False, status_code=None, duration_ms=10_000, error="ReadTimeout"
    )
    WebhookDelivery.objects.filter(pk=later.pk).update(
        attempts=1, locked_until=now, next_attempt_at=now + timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=expired.pk).update(status="expired", next_attempt_at=None)
    WebhookEvent.objects.filter(pk=expired.event_id).update(created_at=now - timedelta(days=40))
    return endpoint


@pytest.mark.django_db(transaction=True)
def test_disabling_says_first_that_nothing_will_be_recorded(
    owner_page, organization, endpoint_with_history
):
    page = owner_page
    page.goto(reverse("webhooks:endpoints", args=[organization.slug]))
    page.get_by_text("Disable", exact=True).click()
    warning = page.get_by_text("no events are recorded for it")
    expect(warning).to_be_visible()
    page.get_by_role("button", name=f"Disable {endpoint_with_history.url}").click()
    expect(page.get_by_text("Disabled by hand: no events are recorded for it.")).to_be_visible()
    endpoint_with_history.refresh_from_db()
    assert not endpoint_with_history.enabled


@pytest.mark.django_db(transaction=True)
def test_the_log_shows_attempts_the_next_try_and_what_expired(
    owner_page, organization, endpoint_with_history
):
    page = owner_page
    log = reverse("webhooks:endpoint", args=[organization.slug, endpoint_with_history.pk])
    page.goto(log)
    expect(page.get_by_text("Next try")).to_be_visible()
    expect(page.get_by_text("ReadTimeout")).to_be_visible()
    page.get_by_role("link", name="Expired").click()
    expect(page.get_by_text("Waited longer than the retention window; never sent.")).to_be_visible()
    expect(page.get_by_role("button", name="Redeliver customer.updated")).to_be_visible()
    page.goto(log + "?status=expired")  # pictured too, as the address the filter pushed


@pytest.mark.django_db(transaction=True)
def test_an_automatically_disabled_endpoint_says_its_events_wait(
    owner_page, organization, endpoint_with_history
):
    WebhookEndpoint.objects.filter(pk=endpoint_with_history.pk).update(
        enabled=False,
        disabled_automatically=True,
        disabled_reason="Disabled automatically on 2026-11-28 10:00 UTC: every attempt failed "
        "for 72 hours (41 attempts; last: HTTP 503). New events are kept and sent, oldest "
        "first, when you enable it again.",
    )
    page = owner_page
    page.goto(reverse("webhooks:endpoints", args=[organization.slug]))
    expect(page.get_by_text("New events are kept and sent")).to_be_visible()
    page.goto(reverse("webhooks:endpoint", args=[organization.slug, endpoint_with_history.pk]))
    expect(page.get_by_text("Waits until the endpoint is enabled").first).to_be_visible()

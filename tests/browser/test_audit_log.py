"""Settings → Audit log in a real browser: an owner filters the log by actor and type and
pages through it (each page pictured at both widths by the conftest's goto)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from activity.models import Entry
from customers import services as customer_services
from tests.browser.conftest import wait_for_htmx


@pytest.fixture
def history(organization, owner):
    ada = customer_services.customer_create(
        organization=organization,
        email="ada.lovelace@analytical-engines.example.com",
        name="Ada Lovelace",
        external_id="usr_ada",
        metadata={"plan": "pro", "seats": 3},
    )
    customer_services.customer_update(
        customer=ada, name="Ada King", metadata={"plan": "team", "seats": 5}
    )
    bob = customer_services.customer_create(organization=organization, email="bob@example.com")
    now = timezone.now()
    Entry.objects.create(
        organization=organization,
        customer=bob,
        created_at=now - timedelta(minutes=5),
        type="order.paid",
        actor_type="user",
        actor_id=str(owner.pk),
        actor_name="owner",
        source="dashboard",
        changes={"status": ["pending", "paid"]},
    )
    return ada, bob


@pytest.mark.django_db(transaction=True)
def test_an_owner_filters_the_audit_log(owner_page, organization, owner, history):
    page = owner_page
    page.goto(reverse("audit:log", args=[organization.slug]))
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    rows = page.locator("#audit-log tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#audit-log").get_by_text("team", exact=True).first).to_be_visible()

    page.get_by_label("Actor").select_option(f"user:{owner.pk}")
    page.get_by_role("button", name="Filter").click()
    wait_for_htmx(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("order.paid")
    assert f"actor=user%3A{owner.pk}" in page.url

    page.goto(reverse("audit:log", args=[organization.slug]) + "?customer=usr_ada")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Export these entries (CSV)")).to_be_visible()

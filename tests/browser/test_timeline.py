"""The customer's timeline and notes in a real browser: read it on the customer page, filter
it, load more, add, edit, pin and delete a note; and the same without JavaScript."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from activity.models import Entry, Note
from core.changes import Actor, acting
from customers import services as customer_services
from tests.browser.conftest import ARTIFACTS_DIR, PHONE, check_page, wait_for_htmx
from tests.factories import CustomerFactory


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def timeline_url(customer) -> str:
    return reverse("activity:timeline", args=[customer.organization.slug, customer.pk])


def shoot(page, name: str) -> None:
    """Screenshots of the page as it is now (after in-page changes), at both widths, and
    of the timeline card alone on a phone (the whole page is very long there)."""
    check_page(page, ARTIFACTS_DIR / "timeline" / name)
    original = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        page.locator("#timeline").screenshot(
            path=ARTIFACTS_DIR / "timeline" / f"{name}-timeline-390.png", caret="initial"
        )
    finally:
        page.set_viewport_size(original)


def a_customer_with_history(organization):
    customer = CustomerFactory(
        organization=organization, email="ada@example.com", metadata={"plan": "pro", "seats": 1}
    )
    with acting(actor=Actor("token", "tok_1", "CRM sync"), source="api"):
        customer_services.customer_update(
            customer=customer, metadata={"plan": "team", "seats": True, "region": "eu"}
        )
    with acting(actor=Actor("user", "1", "Grace Hopper"), source="dashboard"):
        customer_services.customer_update(customer=customer, name="Ada Lovelace")
    Entry.objects.create(
        organization=organization,
        customer=customer,
        type="order.paid",
        actor_type="system",
        actor_name="System",
        source="system",
        changes={"status": ["pending", "paid"]},
    )
    return customer


def test_the_customer_page_shows_the_timeline_newest_first_with_who_and_what(
    owner_page, organization
):
    page = owner_page
    customer = a_customer_with_history(organization)
    page.goto(detail_url(customer))
    timeline = page.locator("#timeline")
    expect(timeline.get_by_role("heading", name="Timeline")).to_be_visible()
    entries = timeline.locator("li.entry")
    expect(entries).to_have_count(3)
    expect(entries.nth(0).locator(".entry-title")).to_have_text("Order paid")
    expect(entries.nth(1).locator(".entry-title")).to_have_text("Profile updated")
    expect(entries.nth(1)).to_contain_text("by Grace Hopper member")
    expect(entries.nth(2).locator(".entry-title")).to_have_text("Metadata updated")
    expect(entries.nth(2).locator(".entry-actor")).to_have_text("by CRM sync API token")
    # old struck through -> new; a metadata key by its name; a retype shows both types
    plan = entries.nth(2).locator(".diff dd").nth(0)
    expect(entries.nth(2).locator(".diff dt").nth(0)).to_have_text(re.compile(r"^plan\s+metadata$"))
    expect(plan.locator("del")).to_have_text("pro")
    expect(plan.locator("ins")).to_have_text("team")
    expect(entries.nth(2).locator(".diff dd").nth(2).locator("del")).to_have_text("1 Integer")
    expect(entries.nth(2).locator(".diff dd").nth(1)).to_contain_text("eu")
    time = entries.nth(0).locator("time.entry-time")
    expect(time).to_have_text(re.compile("just now"))
    expect(time).to_have_attribute("title", re.compile(r"\w{3} \d+, \d{4}, \d\d:\d\d:\d\d UTC"))
    expect(timeline.locator(".day-label")).to_have_text(["Today"])
    shoot(page, "customer-page")

    # A chip filters in place (and says which one is on).
    page.evaluate("window.sameDocument = true")
    timeline.get_by_role("link", name="Billing").click()
    expect(timeline.get_by_role("link", name="Billing")).to_have_attribute("aria-current", "true")
    expect(entries).to_have_count(1)
    expect(entries.first.locator(".entry-title")).to_have_text("Order paid")
    timeline.get_by_role("link", name="Webhooks").click()
    expect(timeline).to_contain_text("No webhook deliveries about this customer yet.")
    timeline.get_by_role("link", name="Profile & metadata").click()
    expect(entries).to_have_count(2)
    assert page.evaluate("window.sameDocument") is True


def test_a_member_adds_edits_pins_and_deletes_a_note(page, sign_in, member, organization):
    sign_in(page, member)
    customer = CustomerFactory(organization=organization)
    page.goto(detail_url(customer))
    page.evaluate("window.sameDocument = true")
    timeline = page.locator("#timeline")

    page.get_by_label("Add a note").fill("Prefers email.\nSee https://example.com/ticket/7")
    page.get_by_role("button", name="Add note").click()
    expect(timeline.get_by_role("status")).to_have_text("Note added.")
    note = timeline.locator("article.note").first
    expect(note.locator(".note-body")).to_have_text(
        "Prefers email.See https://example.com/ticket/7"
    )
    expect(note.locator(".note-body br")).to_have_count(1)
    expect(note.get_by_role("link", name="https://example.com/ticket/7")).to_have_attribute(
        "href", "https://example.com/ticket/7"
    )
    expect(page.get_by_label("Add a note")).to_have_value("")
    shoot(page, "note-added")

    # Edit in place.
    note.get_by_role("link", name="Edit").click()
    editor = page.get_by_label("Edit the note")
    expect(editor).to_have_value("Prefers email.\nSee https://example.com/ticket/7")
    wait_for_htmx(page)
    editor.fill("Prefers phone calls.")
    page.get_by_role("button", name="Save note").click()
    expect(timeline.get_by_role("status")).to_have_text("Note saved.")
    edited = timeline.locator("li.entry").first
    expect(edited.locator(".entry-title")).to_have_text("Note edited")
    expect(edited.locator("del")).to_contain_text("Prefers email.")
    expect(edited.locator("ins")).to_have_text("Prefers phone calls.")
    expect(edited.get_by_role("link", name="Open the note")).to_be_visible()

    # Pin: the note heads the page, above the details.
    timeline.get_by_role("button", name="Pin to top").click()
    pinned = page.locator("#pinned-notes")
    expect(pinned).to_contain_text("Prefers phone calls.")
    details = page.locator(".details-card")
    assert pinned.bounding_box()["y"] < details.bounding_box()["y"]
    shoot(page, "note-pinned")
    pinned.get_by_role("button", name="Unpin this note").click()
    expect(pinned).to_have_count(0)
    expect(timeline.locator("li.entry").first.locator(".entry-title")).to_have_text("Note unpinned")

    # Delete, asked in the page first.
    timeline.locator("article.note").get_by_role("link", name="Delete").click()
    expect(timeline.get_by_text("Delete this note?")).to_be_visible()
    timeline.get_by_role("button", name="Delete note").click()
    expect(timeline.get_by_role("status")).to_have_text("Note deleted.")
    expect(timeline.locator("article.note")).to_have_count(0)
    expect(timeline.locator("li.entry").first.locator(".entry-title")).to_have_text("Note deleted")
    assert not Note.objects.exists()
    assert page.evaluate("window.sameDocument") is True


def test_a_note_over_5000_characters_is_refused_beside_the_field(
    owner_page, organization, browser_errors
):
    page = owner_page
    browser_errors.expect_http_status(422)  # the form comes back with its error, as 422
    customer = CustomerFactory(organization=organization)
    page.goto(detail_url(customer))
    field = page.get_by_label("Add a note")
    field.fill("z" * 5001)
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#note-add-error")).to_have_text(
        "The note is 5,001 characters long; a note can be at most 5,000."
    )
    expect(page.locator("#note-add-body")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#note-add-body")).to_have_value("z" * 5001)
    shoot(page, "note-too-long")
    assert not Note.objects.exists()


def test_load_more_appends_older_entries_until_the_first(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization)
    # From midday, so the 118 hours cover six calendar days whatever the time of the run
    # (from 23:00 they covered five and a bit, and the test failed near midnight).
    now = timezone.now()
    midday = now.replace(hour=12, minute=0, second=0, microsecond=0)
    newest = midday if midday <= now else midday - timedelta(days=1)
    Entry.objects.bulk_create(
        Entry(
            organization=organization,
            customer=customer,
            type="customer.updated",
            created_at=newest - timedelta(hours=2 * i),
            actor_type="user",
            actor_name="Grace Hopper",
            source="dashboard",
            changes={"metadata.step": [i, i + 1]},
        )
        for i in range(60)
    )
    page.goto(detail_url(customer))
    entries = page.locator("#timeline li.entry")
    expect(entries).to_have_count(25)
    page.get_by_role("link", name="Load more").click()
    expect(entries).to_have_count(50)
    page.get_by_role("link", name="Load more").click()
    expect(entries).to_have_count(60)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    # Every day has one visible heading, however the pages split it.
    labels = page.locator("#timeline .day-label").all_inner_texts()
    assert len(labels) == len(set(labels)) == 6
    shoot(page, "load-more")


def test_without_javascript_the_timeline_is_a_page_of_its_own(
    new_page, sign_in, owner, organization
):
    page = new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    sign_in(page, owner)
    customer = a_customer_with_history(organization)
    Entry.objects.bulk_create(
        Entry(
            organization=organization,
            customer=customer,
            type="order.created",
            created_at=timezone.now() - timedelta(days=1, minutes=i),
            actor_type="buyer",
            actor_name="ada@example.com",
            source="checkout",
        )
        for i in range(30)
    )
    page.goto(detail_url(customer))
    page.get_by_role("link", name="Timeline and notes").click()
    expect(page).to_have_url(re.compile(re.escape(timeline_url(customer)) + "$"))
    page.get_by_label("Add a note").fill("Written without JavaScript")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status").first).to_contain_text("Note added.")
    expect(page.locator("article.note .note-body")).to_have_text("Written without JavaScript")
    page.get_by_role("link", name="Load more").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.locator("li.entry")).to_have_count(9)
    expect(page.get_by_role("link", name="← Newest entries")).to_be_visible()
    page.goto(page.url)  # screenshots of the second page


def test_the_buyer_is_shown_by_the_customers_email_as_it_is_now(owner_page, organization):
    """A buyer's entry stores no name (activity.models.PERSONAL_ACTORS): the customer page
    and the audit log show the customer's email, the new one after it changed."""
    page = owner_page
    customer = CustomerFactory(organization=organization, email="ada@example.com", name="")
    Entry.objects.create(
        organization=organization,
        customer=customer,
        type="order.paid",
        actor_type="buyer",
        actor_id="01a23d10-0000-7000-8000-000000000001",
        actor_name="",
        source="checkout",
        changes={"status": ["pending", "paid"]},
    )
    page.goto(detail_url(customer))
    entry = page.locator("#timeline li.entry").first
    expect(entry.locator(".entry-actor")).to_have_text("by ada@example.com buyer")
    shoot(page, "buyer-entry")

    customer_services.customer_update(customer=customer, email="ada@new.example.com")
    page.goto(reverse("audit:log", args=[organization.slug]) + "?type=order.paid")
    row = page.locator("#audit-log tbody tr").first
    expect(row.locator('[data-label="Who"]')).to_contain_text("ada@new.example.com")
    check_page(page, ARTIFACTS_DIR / "timeline" / "buyer-entry-audit-log")

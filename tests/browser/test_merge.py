"""Merging a pair from *Possible duplicates* in the browser: the pair with its reasons, the
preview side by side (a choice changes the result, nothing is written), the confirmation,
the survivor's page; and dismissing a pair. Screenshots of the duplicates page and the
preview at 1280 and 390 wide go to /tmp/shots/merge-*.png."""

from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from playwright.sync_api import expect

from customers.duplicates import scan_organization
from customers.models import Customer, CustomerAlias
from customers.services import customer_create
from tests.factories import OrderFactory

SHOTS = Path("/tmp/shots")


def make_pair(organization):
    ada = customer_create(
        organization=organization,
        email="ada@example.com",
        name="Ada",
        external_id="usr_ada",
        metadata={"plan": "pro"},
    )
    twin = customer_create(
        organization=organization,
        email="ada+shop@example.com",
        name="Ada Lovelace",
        external_id="shop_7",
        billing_address_line1="12 St James's Square",
        billing_address_city="London",
        billing_address_postal_code="SW1Y 4JH",
        billing_address_country="GB",
        metadata={"plan": "basic", "source": "shop-with-a-rather-long-campaign-name-2026"},
    )
    OrderFactory.create_batch(2, customer=twin)
    scan_organization(organization.pk, lag=timedelta(0))
    return ada, twin


def test_an_owner_merges_a_pair_from_the_duplicates_page(owner_page, organization):
    page = owner_page
    ada, twin = make_pair(organization)
    page.goto(reverse("customers:duplicates", args=["acme"]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Possible duplicates")
    expect(page.get_by_text("Same email (normalised)")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "merge-duplicates-1280.png"), full_page=True)

    page.get_by_role("link", name="Merge…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Merge Ada Lovelace into Ada")
    expect(page.get_by_text("Nothing has changed yet.")).to_be_visible()
    expect(page.get_by_text("2 orders")).to_be_visible()

    # Take the other's name: the preview's result follows, and still nothing is written.
    page.locator("input[name=field_name][value=from_customer]").check()
    page.get_by_role("button", name="Update preview").click()
    name_row = page.locator("tr", has=page.get_by_role("rowheader", name="Name", exact=True))
    expect(name_row.locator("td.result")).to_have_text("Ada Lovelace")
    assert Customer.objects.get(pk=twin.pk).deleted_at is None
    page.screenshot(path=str(SHOTS / "merge-preview-1280.png"), full_page=True)

    page.get_by_role("button", name="Merge Ada Lovelace into Ada").click()
    expect(page.get_by_role("status").first).to_contain_text("was merged into")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    survivor = Customer.objects.get(pk=ada.pk)
    assert survivor.name == "Ada Lovelace" and survivor.external_id == "usr_ada"
    assert survivor.billing_address_city == "London"
    assert Customer.objects.get(pk=twin.pk).merged_into_id == ada.pk
    assert CustomerAlias.survivor_id(organization.pk, external_id="shop_7") == ada.pk


def test_an_owner_dismisses_a_pair(owner_page, organization):
    page = owner_page
    make_pair(organization)
    page.goto(reverse("customers:duplicates", args=["acme"]))
    page.get_by_role("button", name="Not the same person").click()
    expect(page.get_by_text("No possible duplicates right now.")).to_be_visible()


def test_both_pages_fit_a_phone(new_page, sign_in, owner, organization):
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, owner)
    ada, twin = make_pair(organization)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(reverse("customers:duplicates", args=["acme"]))
    expect(page.get_by_role("link", name="Merge…")).to_be_visible()
    page.screenshot(path=str(SHOTS / "merge-duplicates-390.png"), full_page=True)
    page.goto(reverse("customers:merge", args=["acme", ada.pk]) + f"?from={twin.pk}")
    expect(page.get_by_role("button", name="Merge Ada Lovelace into Ada")).to_be_visible()
    page.screenshot(path=str(SHOTS / "merge-preview-390.png"), full_page=True)
    assert not page.evaluate("document.documentElement.scrollWidth > innerWidth")

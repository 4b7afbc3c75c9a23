"""Erasing a customer in the browser: *Export then erase* from the customer page, the
confirmation that says it is irreversible, the typed email, the export downloaded as the
erasure's answer. Screenshots of the confirmation at 1280 and 390 wide go to /tmp/shots."""

import json
import re
from pathlib import Path

from django.urls import reverse
from playwright.sync_api import expect

from activity.services import note_add
from customers import services
from customers.models import Customer

SHOTS = Path("/tmp/shots")


def make_customer(organization) -> Customer:
    customer = services.customer_create(
        organization=organization,
        email="ada@example.com",
        name="Ada Lovelace",
        external_id="usr_ada",
        billing_address_line1="12 St James's Square",
        billing_address_city="London",
        billing_address_country="GB",
        metadata={"plan": "pro"},
    )
    note_add(customer=customer, body="Prefers email")
    return customer


def test_an_owner_exports_then_erases_a_customer(owner_page, organization, browser_errors):
    page = owner_page
    browser_errors.expect_http_status(422)  # the wrong email, on purpose
    customer = make_customer(organization)
    page.goto(reverse("customers:detail", args=["acme", customer.pk]))

    page.get_by_role("link", name="Export then erase").click()
    heading = re.compile(r"Erase Ada Lovelace.s personal data\?")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    expect(page.get_by_label("Download the export as part of erasing")).to_be_checked()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "erase-1280.png"), full_page=True)

    # A wrong email erases nothing and says why, beside the field.
    page.get_by_label("to confirm").fill("someone@example.com")
    page.get_by_role("button", name="Erase this customer").click()
    expect(page.get_by_role("alert")).to_have_text("Type the customer's email exactly to confirm.")
    assert Customer.objects.get(pk=customer.pk).erased_at is None

    page.get_by_label("to confirm").fill("ada@example.com")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Erase this customer").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"acme-customer-{customer.pk}-export-")
    document = json.loads(Path(download.path()).read_text())
    assert document["customer"]["email"] == "ada@example.com"
    assert [note["body"] for note in document["notes"]] == ["Prefers email"]

    erased = Customer.objects.get(pk=customer.pk)
    assert erased.erased_at is not None
    assert erased.email == f"erased-{customer.pk}@erased.invalid"
    assert erased.name == "" and erased.billing_address_line1 == ""
    page.goto(reverse("customers:list", args=["acme"]))
    expect(page.get_by_text("ada@example.com")).to_have_count(0)


def test_the_confirmation_fits_a_phone(new_page, sign_in, owner, organization):
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, owner)
    customer = make_customer(organization)
    page.goto(reverse("customers:erase", args=["acme", customer.pk]) + "?export=1")
    expect(page.get_by_role("button", name="Erase this customer")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "erase-390.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth > innerWidth")
    assert not overflow


def test_erasing_without_the_export_goes_back_to_the_list(owner_page, organization):
    page = owner_page
    customer = make_customer(organization)
    page.goto(reverse("customers:erase", args=["acme", customer.pk]))
    page.get_by_label("Download the export as part of erasing").uncheck()
    page.get_by_label("to confirm").fill("ada@example.com")
    page.get_by_role("button", name="Erase this customer").click()

    expect(page.get_by_role("status")).to_have_text("The customer's personal data was erased.")
    assert Customer.objects.get(pk=customer.pk).erased_at is not None

import re

from django.urls import reverse
from playwright.sync_api import expect

from customers.models import Customer
from tests.factories import CustomerFactory


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def edit_url(customer) -> str:
    return reverse("customers:edit", args=[customer.organization.slug, customer.pk])


def test_editing_the_name_shows_the_new_name_on_the_detail_page(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, name="Ada Byron", email="ada@example.com")
    page.goto(detail_url(customer))

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", name="Edit profile")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Details")).to_contain_text("Ada Lovelace")
    customer.refresh_from_db()
    assert customer.name == "Ada Lovelace"
    assert customer.email == "ada@example.com"


def test_an_external_id_once_set_is_shown_locked_and_cannot_be_changed(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, name="Ada Lovelace", external_id=None)
    page.goto(detail_url(customer))
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("Not set")

    details.get_by_role("link", name="Set it").click()
    external_id = page.get_by_label("External ID")
    expect(external_id).to_be_editable()
    external_id.fill("crm-42")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(details).to_contain_text("crm-42")
    expect(details.locator(".badge.lock")).to_have_text("Locked")
    customer.refresh_from_db()
    assert customer.external_id == "crm-42"

    page.get_by_role("link", name="Edit", exact=True).click()
    external_id = page.get_by_label("External ID")
    expect(external_id).to_have_value("crm-42")
    expect(external_id).to_be_disabled()
    expect(page.locator(".field.locked .badge.lock")).to_have_text("Locked")
    expect(external_id).to_have_accessible_description(
        re.compile("An external ID can never change once set")
    )

    # Even a page altered in the browser cannot change it: the server keeps the stored ID.
    external_id.evaluate(
        "input => { input.disabled = false; input.name = 'external_id'; input.value = 'hacked' }"
    )
    page.get_by_label("Name", exact=True).fill("Ada King")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    expect(details).to_contain_text("crm-42")
    customer.refresh_from_db()
    assert (customer.name, customer.external_id) == ("Ada King", "crm-42")


def test_deleting_a_customer_by_typing_their_email_removes_them_from_the_list(
    owner_page, organization
):
    page = owner_page
    CustomerFactory(organization=organization, name="Grace Hopper", email="grace@example.com")
    leaving = CustomerFactory(
        organization=organization, name="Ada Lovelace", email="ada@example.com"
    )
    page.goto(detail_url(leaving))

    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Delete Ada Lovelace?")).to_be_visible()
    page.get_by_label("Type ada@example.com to confirm").fill("ada@example.com")
    page.get_by_role("button", name="Delete customer").click()

    expect(page).to_have_url(re.compile(r"/dashboard/acme/customers/$"))
    expect(page.get_by_role("status")).to_have_text("Customer ada@example.com deleted.")
    expect(page.locator("#customer-rows a.customer-cell strong")).to_have_text(["Grace Hopper"])
    assert Customer.objects.get(pk=leaving.pk).deleted_at is not None


def test_deleting_with_a_mistyped_email_keeps_the_customer(
    owner_page, organization, browser_errors
):
    page = owner_page
    browser_errors.expect_http_status(422)  # the form comes back with its error, as 422
    customer = CustomerFactory(organization=organization, email="ada@example.com")
    page.goto(reverse("customers:delete", args=[organization.slug, customer.pk]))

    page.get_by_label("Type ada@example.com to confirm").fill("ada@example.org")
    page.get_by_role("button", name="Delete customer").click()

    expect(page.locator("#confirm-error")).to_have_text(
        "Type the customer's email exactly to confirm."
    )
    customer.refresh_from_db()
    assert customer.deleted_at is None

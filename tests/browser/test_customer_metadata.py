from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import wait_for_htmx
from tests.factories import CustomerFactory


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def test_adding_a_metadata_key_shows_it_in_place_with_its_type(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    expect(panel.locator(".counter")).to_have_text("1 / 50 keys")
    page.evaluate("window.sameDocument = true")

    panel.get_by_label("Key", exact=True).fill("seats")
    panel.get_by_label("Type", exact=True).select_option(label="Integer")
    panel.get_by_label("Value", exact=True).fill("3")
    panel.get_by_role("button", name="Add").click()

    row = panel.get_by_role("row").filter(has=page.locator("td.key", has_text="seats"))
    expect(row.locator("td.value")).to_have_text("3")
    expect(row.locator(".type")).to_have_text("integer")
    expect(panel.locator(".counter")).to_have_text("2 / 50 keys")
    expect(panel.get_by_role("status")).to_have_text("Saved 'seats'.")
    expect(page.locator("#add-key")).to_have_value("")
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"

    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro", "seats": 3}
    assert type(customer.metadata["seats"]) is int


def test_a_metadata_key_longer_than_40_characters_is_refused_next_to_the_field(
    owner_page, organization, browser_errors
):
    page = owner_page
    browser_errors.expect_http_status(422)  # the panel comes back with the error, as 422
    customer = CustomerFactory(organization=organization, metadata={})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    too_long = "k" * 41

    panel.get_by_label("Key", exact=True).fill(too_long)
    panel.get_by_label("Value", exact=True).fill("pro")
    panel.get_by_role("button", name="Add").click()

    error = page.locator("p.error#add-key-error")
    expect(error).to_contain_text("41 characters long; keys can be at most 40")
    expect(page.locator("#add-key")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#add-key")).to_have_attribute("aria-describedby", "add-key-error")
    expect(page.locator("#add-key")).to_have_value(too_long)
    expect(page.locator("#add-value-error")).to_have_count(0)
    expect(panel.locator(".counter")).to_have_text("0 / 50 keys")
    expect(panel.locator("table.metadata")).to_have_count(0)

    customer.refresh_from_db()
    assert customer.metadata == {}


def test_editing_a_metadata_value_in_place_can_change_its_type(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": "5"})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")

    panel.get_by_role("link", name="Edit seats").click()
    expect(page.locator("#edit-key")).to_have_value("seats")
    expect(page.locator("#edit-value")).to_have_value("5")
    wait_for_htmx(page)
    page.locator("#edit-type").select_option(label="Integer")
    page.locator("#edit-value").fill("7")
    expect(page.locator("#edit-value")).to_have_value("7")
    expect(page.locator("#edit-type")).to_have_value("integer")
    panel.get_by_role("button", name="Save").click()

    row = panel.get_by_role("row").filter(has=page.locator("td.key", has_text="seats"))
    expect(row.locator("td.value")).to_have_text("7")
    expect(row.locator(".type")).to_have_text("integer")
    expect(page.locator("#edit-key")).to_have_count(0)
    expect(panel.locator(".counter")).to_have_text("2 / 50 keys")
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro", "seats": 7}


def test_removing_a_metadata_key_asks_first_then_takes_it_out_of_the_panel(
    owner_page, organization
):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": 5})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    panel.get_by_role("button", name="Remove plan").click()

    expect(panel.locator("td.key")).to_have_text(["seats"])
    expect(panel.locator(".counter")).to_have_text("1 / 50 keys")
    expect(panel.get_by_role("status")).to_have_text("Removed 'plan'.")
    assert questions == ["Remove the key plan?"]
    customer.refresh_from_db()
    assert customer.metadata == {"seats": 5}

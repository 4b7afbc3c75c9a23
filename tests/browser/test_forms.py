"""Forms as a merchant and a buyer see them: every label above its own field in an aligned
grid at desktop and phone widths, the country picked by name, the first field in error
focused. Screenshots go to test-artifacts/ (forms-*.png)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from checkouts import services as checkout_services
from tests.factories import CustomerFactory, ProductFactory

WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def box(page, selector):
    return page.locator(selector).bounding_box()


def assert_label_above_its_field(page, name):
    control = page.locator(f'[name="{name}"]')
    label = page.locator(f'label[for="{control.get_attribute("id")}"]')
    label_box, control_box = label.bounding_box(), control.bounding_box()
    assert abs(label_box["x"] - control_box["x"]) < 1, f"{name}: label not above its field"
    assert label_box["y"] + label_box["height"] <= control_box["y"] + 1, name


def assert_no_horizontal_overflow(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_edit_profile_billing_block_is_one_aligned_grid(
    new_page, sign_in, owner, organization, artifacts_dir, width
):
    page = new_page(viewport=WIDTHS[width])
    sign_in(page, owner)
    customer = CustomerFactory(
        organization=organization, name="Ada Lovelace", billing_address_country="GB"
    )
    page.goto(reverse("customers:edit", args=[organization.slug, customer.pk]))
    country = page.get_by_label("Country", exact=True)
    expect(country).to_have_value("GB")
    names = ["billing_address_postal_code", "billing_address_city"]
    names += ["billing_address_state", "billing_address_country", "tax_id", "locale"]
    for name in names:
        assert_label_above_its_field(page, name)
    postal, city = (
        box(page, '[name="billing_address_postal_code"]'),
        box(page, '[name="billing_address_city"]'),
    )
    state, country_box = (
        box(page, '[name="billing_address_state"]'),
        box(page, "#id_billing_address_country"),
    )
    if width == "desktop":
        # Side by side, on one line, of one height: no field falls onto a row of its own.
        assert abs(postal["y"] - city["y"]) < 1 and abs(state["y"] - country_box["y"]) < 1
        assert abs(state["height"] - country_box["height"]) < 2
        assert abs(postal["x"] - state["x"]) < 1 and abs(city["x"] - country_box["x"]) < 1
    else:
        assert city["y"] > postal["y"] and abs(city["x"] - postal["x"]) < 1
    assert_no_horizontal_overflow(page)
    page.screenshot(path=artifacts_dir / f"forms-edit-profile-{width}.png", full_page=True)


def test_the_country_is_chosen_by_typing_its_name_and_stored_as_its_code(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, name="Ada Lovelace")
    page.goto(reverse("customers:edit", args=[organization.slug, customer.pk]))
    country = page.get_by_label("Country", exact=True)
    country.focus()
    page.keyboard.type("Germany")  # a native select's type-ahead, no JavaScript needed
    expect(country).to_have_value("DE")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    customer.refresh_from_db()
    assert customer.billing_address_country == "DE"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_new_customer_with_errors_focuses_the_first_field_in_error(
    new_page, sign_in, owner, organization, artifacts_dir, browser_errors, width
):
    browser_errors.expect_http_status(422)
    page = new_page(viewport=WIDTHS[width])
    sign_in(page, owner)
    page.goto(reverse("customers:create", args=[organization.slug]))
    page.get_by_label("Name", exact=True).fill("Ada")
    page.get_by_label("Email", exact=True).fill("not an email")
    page.get_by_role("button", name="Create customer").click()

    email = page.get_by_label("Email", exact=True)
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Enter a valid email address.")
    assert_label_above_its_field(page, "email")
    assert_label_above_its_field(page, "billing_address_country")
    assert_no_horizontal_overflow(page)
    page.screenshot(path=artifacts_dir / f"forms-new-customer-{width}.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_hosted_checkout_billing_address_is_aligned(
    new_page, organization, artifacts_dir, width
):
    page = new_page(viewport=WIDTHS[width])
    product = ProductFactory(organization=organization)
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    page.goto(reverse("checkouts:page", args=[checkout.client_secret]))
    for name in ("customer_billing_address_postal_code", "customer_billing_address_city"):
        assert_label_above_its_field(page, name)
    assert_label_above_its_field(page, "customer_billing_address_country")
    page.get_by_label("Country", exact=True).select_option(label="Germany")
    expect(page.get_by_label("Country", exact=True)).to_have_value("DE")
    postal = box(page, '[name="customer_billing_address_postal_code"]')
    city = box(page, '[name="customer_billing_address_city"]')
    country = box(page, '[name="customer_billing_address_country"]')
    if width == "desktop":
        # One line, one height: the country does not fall onto a row of its own.
        assert abs(postal["y"] - city["y"]) < 1 and abs(city["y"] - country["y"]) < 1
        assert abs(postal["height"] - country["height"]) < 2
    email = box(page, '[name="customer_email"]')
    name_label = page.locator('label[for="id_customer_name"]').bounding_box()
    assert name_label["y"] - (email["y"] + email["height"]) >= 8, "fields run together"
    assert_no_horizontal_overflow(page)
    page.screenshot(path=artifacts_dir / f"forms-checkout-{width}.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sign_in_page_has_plain_labels_above_the_fields(new_page, artifacts_dir, width):
    page = new_page(viewport=WIDTHS[width])
    page.goto(reverse("login"))
    expect(page.locator("label")).to_have_text(["Username", "Password"])
    assert_label_above_its_field(page, "username")
    assert_label_above_its_field(page, "password")
    expect(page.get_by_label("Username")).to_be_focused()
    assert_no_horizontal_overflow(page)
    page.screenshot(path=artifacts_dir / f"forms-sign-in-{width}.png", full_page=True)

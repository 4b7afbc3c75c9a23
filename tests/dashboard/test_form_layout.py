"""Forms: the country is chosen from ISO 3166 (names shown, codes stored, unknown codes
refused on every path), each label sits above its own field in one grid cell, no Django
default wording, and the first field in error gets the focus."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from checkouts import services as checkout_services
from customers import services
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


def edit_url(customer):
    return reverse("customers:edit", args=[customer.organization.slug, customer.pk])


def create_url(organization):
    return reverse("customers:create", args=[organization.slug])


def profile(customer, **changes) -> dict:
    data = {"email": customer.email, "name": customer.name, "version": customer.version}
    return data | changes


def field_cell(html: str, name: str) -> str:
    """The grid cell holding the control named `name`: a div.field with its label."""
    match = re.search(
        rf'<div class="field[^"]*">\s*<label for="id_{name}">[^<]*</label>'
        rf'(?:(?!<div class="field).)*?name="{name}"',
        html,
        re.S,
    )
    assert match, f"{name}: label and control are not in one cell"
    return match.group(0)


# --- country -------------------------------------------------------------------------


def test_the_country_is_a_select_of_iso_countries_showing_names(merchant, organization):
    customer = CustomerFactory(organization=organization, billing_address_country="DE")
    html = merchant.get(edit_url(customer)).text
    cell = field_cell(html, "billing_address_country")
    assert "<select" in cell
    assert re.search(r'<option value="DE" selected>Germany</option>', html)
    assert '<option value="FR">France</option>' in html
    assert html.count("<option") > 240  # every ISO 3166-1 country, plus "not set"


def test_a_country_name_or_unknown_code_is_refused_not_cut_short(merchant, organization):
    customer = CustomerFactory(organization=organization, billing_address_country="")
    for typed in ("Germany", "ZZ"):
        response = merchant.post(
            edit_url(customer), profile(customer, billing_address_country=typed)
        )
        assert response.status_code == 422
        (message,) = response.context["form"].errors["billing_address_country"]
        assert "Choose a country from the list" in message
        customer.refresh_from_db()
        assert customer.billing_address_country == ""


def test_a_lower_case_code_is_stored_upper_case(merchant, organization):
    customer = CustomerFactory(organization=organization)
    response = merchant.post(edit_url(customer), profile(customer, billing_address_country="de"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.billing_address_country == "DE"


def test_the_model_refuses_an_unknown_country_on_every_path(organization):
    # The API, admin and imports write through the services, which full_clean() the model.
    with pytest.raises(ValidationError) as error:
        services.customer_create(
            organization=organization, email="ada@example.com", billing_address_country="ZZ"
        )
    assert "billing_address_country" in error.value.message_dict
    customer = services.customer_create(
        organization=organization, email="ada@example.com", billing_address_country="gb"
    )
    assert customer.billing_address_country == "GB"


def test_the_hosted_checkout_offers_countries_by_name_and_refuses_unknown_ones(
    client, organization
):
    product = ProductFactory(organization=organization)
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    url = reverse("checkouts:page", args=[checkout.client_secret])
    html = client.get(url).text
    cell = field_cell(html, "customer_billing_address_country")
    assert "<select" in cell
    assert '<option value="DE">Germany</option>' in html

    response = client.post(
        url,
        {
            "customer_email": "ada@example.com",
            "customer_billing_address_city": "Berlin",
            "customer_billing_address_country": "Germany",
            "payment_token": "tok_success",
        },
    )
    assert response.status_code == 422
    (message,) = response.context["form"].errors["customer_billing_address_country"]
    assert "Choose a country from the list" in message


# --- layout and wording --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "email",
        "name",
        "billing_name",
        "billing_address_line1",
        "billing_address_postal_code",
        "billing_address_city",
        "billing_address_state",
        "billing_address_country",
        "tax_id",
        "locale",
    ],
)
def test_each_profile_label_shares_a_cell_with_its_field(merchant, organization, name):
    customer = CustomerFactory(organization=organization)
    for html in (
        merchant.get(edit_url(customer)).text,
        merchant.get(create_url(organization)).text,
    ):
        field_cell(html, name)


def test_labels_have_no_django_colons(merchant, organization, client):
    customer = CustomerFactory(organization=organization)
    html = merchant.get(edit_url(customer)).text
    assert re.findall(r"<label[^>]*>[^<]*:\s*</label>", html) == []
    client.logout()
    login = client.get(reverse("login")).text
    assert "Username:" not in login and "Password:" not in login
    field_cell(login, "username")
    field_cell(login, "password")


def test_the_first_field_in_error_gets_the_focus(merchant, organization):
    response = merchant.post(
        create_url(organization),
        {"email": "not an email", "billing_address_country": "ZZ"},
    )
    assert response.status_code == 422
    html = response.text
    assert re.findall(r"<(?:input|select)[^>]*autofocus[^>]*>", html) == [
        re.search(r'<input[^>]*name="email"[^>]*>', html).group(0)
    ]
    assert re.search(r'<select[^>]*name="billing_address_country"[^>]*aria-invalid="true"', html)


def test_the_sign_in_page_focuses_the_password_after_a_wrong_one(client, owner):
    response = client.post(reverse("login"), {"username": owner.username, "password": ""})
    html = response.text
    assert re.findall(r"<input[^>]*autofocus[^>]*>", html) == [
        re.search(r'<input[^>]*name="password"[^>]*>', html).group(0)
    ]


def test_the_detail_page_names_the_billing_country(merchant, organization):
    customer = CustomerFactory(
        organization=organization, billing_address_city="Berlin", billing_address_country="DE"
    )
    url = reverse("customers:detail", args=[organization.slug, customer.pk])
    details = merchant.get(url).text
    assert re.search(r"Berlin<br>\s*Germany</dd>", details)


def test_the_api_refuses_an_unknown_country_with_a_422(api, organization):
    # The API shares the model's rule: a well-formed code that is no country is refused.
    body = {"email": "ada@example.com", "billing_address": {"country": "ZZ"}}
    response = api.post("/v1/customers/", body, content_type="application/json")
    assert response.status_code == 422
    assert "ISO 3166-1" in response.text
    body["billing_address"]["country"] = "de"
    response = api.post("/v1/customers/", body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["billing_address"]["country"] == "DE"

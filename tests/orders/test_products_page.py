from datetime import UTC, datetime

import pytest
from django.urls import reverse

from checkouts.models import Checkout
from orders.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


def products_url(organization, **params):
    url = reverse("orders:products", args=[organization.slug])
    return url + ("?archived=1" if params.get("archived") else "")


def action_url(name, product):
    return reverse(f"orders:{name}", args=[product.organization.slug, product.pk])


def valid(**overrides):
    data = {
        "name": "Pro plan",
        "description": "Everything",
        "price": "19.99",
        "currency": "usd",
        "billing": "month",
    }
    return {**data, **overrides}


# --- The list ---------------------------------------------------------------------------


def test_the_list_shows_this_organizations_products_newest_first(
    merchant, organization, other_organization
):
    ProductFactory(
        organization=organization,
        name="Old ebook",
        price_amount=1500,
        recurring_interval=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    ProductFactory(
        organization=organization,
        name="Yearly plan",
        price_amount=12000,
        price_currency="eur",
        recurring_interval="year",
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    ProductFactory(organization=other_organization, name="Their product")

    response = merchant.get(products_url(organization))

    assert response.status_code == 200
    assert [p.name for p in response.context["products"]] == ["Yearly plan", "Old ebook"]
    page = response.text
    for text in ("EUR 120.00", "Yearly", "USD 15.00", "One-time", "Jan 1, 2026"):
        assert text in page
    assert "Their product" not in page


def test_archived_products_are_hidden_until_the_toggle_shows_them(merchant, organization):
    ProductFactory(organization=organization, name="On sale")
    ProductFactory(organization=organization, name="Retired", is_archived=True)

    hidden = merchant.get(products_url(organization))
    assert [p.name for p in hidden.context["products"]] == ["On sale"]
    assert "Show archived" in hidden.text

    shown = merchant.get(products_url(organization, archived=True))
    assert {p.name for p in shown.context["products"]} == {"On sale", "Retired"}
    assert "Archived</span>" in shown.text
    assert "Hide archived" in shown.text


def test_the_toggle_over_htmx_returns_only_the_list(merchant, organization):
    ProductFactory(organization=organization, name="Retired", is_archived=True)
    response = merchant.get(products_url(organization, archived=True), headers=HTMX)
    assert response.text.strip().startswith('<section id="product-list"')
    assert "Retired" in response.text
    assert "HX-Request" in response["Vary"]


def test_the_list_query_count_does_not_grow_with_products(
    merchant, organization, django_assert_num_queries
):
    ProductFactory(organization=organization)
    # session, user, memberships, products
    with django_assert_num_queries(4):
        response = merchant.get(products_url(organization))
    assert len(response.context["products"]) == 1
    ProductFactory.create_batch(19, organization=organization)
    with django_assert_num_queries(4):
        response = merchant.get(products_url(organization))
    assert len(response.context["products"]) == 20


def test_owners_can_use_the_page_too(client, owner, organization):
    client.force_login(owner)
    response = client.post(products_url(organization), valid())
    assert response.status_code == 302
    assert Product.objects.for_org(organization).count() == 1


# --- Create -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "currency", "billing", "amount", "interval"),
    [
        ("19.99", "usd", "month", 1999, "month"),
        ("1000", "jpy", "one_time", 1000, None),
        ("120", "eur", "year", 12000, "year"),
        ("0", "usd", "one_time", 0, None),
    ],
)
def test_creating_a_product_stores_the_price_in_minor_units(
    merchant, organization, price, currency, billing, amount, interval
):
    response = merchant.post(
        products_url(organization), valid(price=price, currency=currency, billing=billing)
    )
    assert response.status_code == 302
    assert response.url == products_url(organization)
    product = Product.objects.for_org(organization).get()
    assert (product.name, product.description) == ("Pro plan", "Everything")
    assert (product.price_amount, product.price_currency) == (amount, currency)
    assert product.recurring_interval == interval
    assert "created" in merchant.get(response.url).text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"price": "abc"}, "price", "Enter a price, such as 19.00."),
        ({"price": ""}, "price", "Enter a price, such as 19.00."),
        ({"price": "-1.00"}, "price", "The price cannot be negative."),
        ({"price": "19.999"}, "price", "USD prices have at most 2 decimal places."),
        ({"price": "10.5", "currency": "jpy"}, "price", "JPY has no minor units"),
        ({"price": "1000000"}, "price", "The price can be at most 999,999.99 USD."),
        ({"name": ""}, "name", "Give the product a name."),
        ({"name": "   "}, "name", "Give the product a name."),
        ({"currency": "xxx"}, "currency", "Select a valid choice."),
        ({"billing": "week"}, "billing", "Select a valid choice."),
    ],
)
def test_an_invalid_product_is_a_422_with_the_error_beside_its_field(
    merchant, organization, data, field, message
):
    response = merchant.post(products_url(organization), valid(**data))
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.text
    assert message in response.text
    assert not Product.objects.exists()


def test_the_form_defaults_to_usd_and_one_time(merchant, organization):
    page = merchant.get(products_url(organization)).text
    assert '<option value="usd" selected>' in page
    assert 'value="one_time" required id="id_billing_0" checked' in page


# --- Archive and unarchive --------------------------------------------------------------


def test_archiving_hides_the_product_and_unarchiving_brings_it_back(merchant, organization):
    product = ProductFactory(organization=organization, name="Pro")

    response = merchant.post(action_url("product_archive", product))
    assert response.status_code == 302
    assert response.url == products_url(organization)
    product.refresh_from_db()
    assert product.is_archived
    assert merchant.get(response.url).context["products"] == []

    response = merchant.post(action_url("product_unarchive", product), {"archived": "1"})
    assert response.url == products_url(organization, archived=True)
    product.refresh_from_db()
    assert not product.is_archived


def test_archiving_over_htmx_returns_the_list_with_a_notice(merchant, organization):
    product = ProductFactory(organization=organization, name="Pro")
    response = merchant.post(action_url("product_archive", product), headers=HTMX)
    assert response.status_code == 200
    assert response.text.strip().startswith('<section id="product-list"')
    assert "archived: it can no longer be bought" in response.text
    product.refresh_from_db()
    assert product.is_archived


def test_archiving_keeps_the_price_id(merchant, organization):
    product = ProductFactory(organization=organization)
    price_id = product.price_id
    merchant.post(action_url("product_archive", product))
    product.refresh_from_db()
    assert product.price_id == price_id


# --- Try checkout -----------------------------------------------------------------------


def test_try_checkout_opens_a_checkout_for_the_product_and_goes_to_its_page(merchant, organization):
    product = ProductFactory(organization=organization, price_amount=1999)
    response = merchant.post(action_url("product_checkout", product))
    checkout = Checkout.objects.get()
    assert (checkout.organization, checkout.product) == (organization, product)
    assert (checkout.amount, checkout.currency) == (1999, "usd")
    assert checkout.status == Checkout.Status.OPEN
    assert response.status_code == 302
    assert response.url == reverse("checkouts:page", args=[checkout.client_secret])
    assert merchant.get(response.url).status_code == 200


def test_an_archived_product_cannot_be_tried(merchant, organization):
    product = ProductFactory(organization=organization, is_archived=True)
    response = merchant.post(action_url("product_checkout", product), follow=True)
    assert "archived and cannot be sold" in response.text
    assert not Checkout.objects.exists()


# --- Another organization's products ----------------------------------------------------


@pytest.mark.parametrize("name", ["product_archive", "product_unarchive", "product_checkout"])
def test_a_product_of_another_organization_is_404_under_my_own_slug(
    merchant, organization, other_organization, name
):
    theirs = ProductFactory(organization=other_organization)
    url = reverse(f"orders:{name}", args=[organization.slug, theirs.pk])
    assert merchant.post(url).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_archived
    assert not Checkout.objects.exists()


def test_the_top_bar_links_customers_and_products(merchant, organization):
    page = merchant.get(products_url(organization)).text
    customers = reverse("customers:list", args=[organization.slug])
    assert f'<a href="{customers}">Customers</a>' in page
    assert f'<a href="{products_url(organization)}" aria-current="page">Products</a>' in page

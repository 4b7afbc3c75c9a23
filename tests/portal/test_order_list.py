"""The portal's order list: every sorting Polar offers, each over the customer's own
orders only, with the session's customer on every row."""

import pytest

from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cheap(shop):
    """A third order of Ada's: the smallest net amount, once discounted."""
    return OrderFactory(
        customer=shop["ada"], product=shop["book"], subtotal_amount=900, discount_amount=800
    )


@pytest.mark.parametrize(
    "sorting, names",
    [
        ("net_amount", ["cheap", "purchase", "renewal"]),
        ("product", ["purchase", "cheap", "renewal"]),  # Handbook, Handbook, Pro plan
        ("-created_at", ["cheap", "purchase", "renewal"]),
    ],
)
def test_the_portal_sorts_the_customers_orders(ada_portal, shop, cheap, sorting, names):
    shop["purchase"].subtotal_amount = shop["purchase"].total_amount = 1000
    shop["purchase"].save()
    shop["renewal"].subtotal_amount = shop["renewal"].total_amount = 2000
    shop["renewal"].save()
    ids = {"cheap": cheap.pk, "purchase": shop["purchase"].pk, "renewal": shop["renewal"].pk}
    body = ada_portal.get(
        "/v1/customer-portal/orders/", {"sorting": [sorting, "created_at"]}
    ).json()
    assert [item["id"] for item in body["items"]] == [str(ids[name]) for name in names]
    assert {item["customer_id"] for item in body["items"]} == {str(shop["ada"].pk)}
    assert {item["billing_name"] for item in body["items"]} == {"Ada"}


def test_the_portal_filters_searches_and_pages_the_customers_orders(ada_portal, shop, cheap):
    def ids(**params):
        body = ada_portal.get("/v1/customer-portal/orders/", params).json()
        return [item["id"] for item in body["items"]], body["pagination"]["total_count"]

    every, total = ids(sorting=["created_at"])
    assert total == 3 and len(every) == 3
    assert ids(sorting=["created_at"], limit=1, page=2) == ([every[1]], 3)
    assert ids(sorting=["created_at"], limit=2, page=2) == ([every[2]], 3)
    assert ids(query="handbook") == ([str(cheap.pk), str(shop["purchase"].pk)], 2)
    assert ids(query="nothing of the kind") == ([], 0)
    # The organization's own name matches every order: no filter.
    assert ids(query=shop["ada"].organization.name)[1] == 3
    assert ids(subscription_id=[str(shop["subscription"].pk)]) == ([str(shop["renewal"].pk)], 1)
    assert ids(product_billing_type=["recurring"]) == ([str(shop["renewal"].pk)], 1)
    assert ids(product_id=[str(shop["book"].pk)], product_billing_type=["one_time"])[1] == 2

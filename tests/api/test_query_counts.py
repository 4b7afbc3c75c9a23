"""Every list operation runs a fixed number of queries, whatever the page size."""

import pytest
from django.utils import timezone

from organizations.models import OrganizationAccessToken
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(organization, token):
    # A token used a moment ago: no last_used_at write in the counted requests.
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    for _ in range(30):
        product = ProductFactory(organization=organization)
        customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
        subscription = SubscriptionFactory(customer=customer, product=product)
        OrderFactory(customer=customer, product=product, subscription=subscription)


# Each: the token with its organization, one page of rows with everything they show
# joined in, and the count (every page here is full, so it cannot prove the total).
LISTS = {
    "/v1/customers/": 3,
    # the rows; their customers, products and (these orders have one) subscriptions by ID
    "/v1/orders/": 6,
    "/v1/subscriptions/": 3,  # rows joined to customer and product
    "/v1/products/": 3,  # rows with their has-orders EXISTS
}


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("limit", [1, 10, 30])
def test_list_query_count_does_not_depend_on_page_size(
    api, data, path, limit, django_assert_num_queries
):
    with django_assert_num_queries(LISTS[path]):
        response = api.get(path, {"limit": limit})
    assert response.status_code == 200


def test_filtered_customer_list_query_count(api, data, django_assert_num_queries):
    # token, page: the search, the active EXISTS and the metadata match sit in the page's
    # query, and 30 matches on a first page of 100 are the total: no count
    with django_assert_num_queries(2):
        response = api.get(
            "/v1/customers/",
            {"limit": 100, "query": "example", "active": "true", "metadata[plan]": "pro"},
        )
    assert len(response.json()["items"]) == 30
    assert response.json()["pagination"] == {"total_count": 30, "max_page": 1}


@pytest.mark.parametrize(
    ("page", "limit", "items", "total", "queries"),
    [
        (1, 100, 30, 30, 2),  # a short first page is the total
        (3, 13, 4, 30, 2),  # a short page that is not empty: the rows before it, plus its own
        (4, 13, 0, 30, 3),  # past the end: counted (the page cannot say)
        (1, 10, 10, 30, 3),  # a full page: counted
    ],
)
def test_a_page_that_proves_the_total_saves_the_count(
    api, data, page, limit, items, total, queries, django_assert_num_queries
):
    # token, page[, count]
    with django_assert_num_queries(queries):
        response = api.get(
            "/v1/customers/", {"query": "example", "active": "true", "page": page, "limit": limit}
        )
    body = response.json()
    assert len(body["items"]) == items
    assert body["pagination"]["total_count"] == total


def test_get_by_external_id_is_two_queries(api, organization, django_assert_num_queries):
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    CustomerFactory(organization=organization, external_id="usr_1")
    # the token with its organization, the customer
    with django_assert_num_queries(2):
        assert api.get("/v1/customers/external/usr_1").status_code == 200

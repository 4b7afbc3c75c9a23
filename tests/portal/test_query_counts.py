"""The portal's lists run a fixed number of queries, whatever the page size."""

import pytest

from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory
from tests.portal.helpers import portal_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(organization):
    customer = CustomerFactory(organization=organization)
    for _ in range(30):
        product = ProductFactory(organization=organization)
        subscription = SubscriptionFactory(customer=customer, product=product)
        OrderFactory(customer=customer, product=product, subscription=subscription)
    # Someone else's rows, which the counts must not take in.
    OrderFactory(customer=CustomerFactory(organization=organization))
    return portal_client(customer)


# Each: the session with its customer and organization (one join), the page with what it
# shows, and the count (every page here is full, so it cannot prove the total).
LISTS = {
    # the rows, then their products and their subscriptions, each read once by ID
    "/v1/customer-portal/orders/": 5,
    "/v1/customer-portal/subscriptions/": 3,  # rows joined to product
}


@pytest.mark.parametrize("path", sorted(LISTS))
@pytest.mark.parametrize("limit", [1, 10, 30])
def test_portal_list_query_count_does_not_depend_on_page_size(
    portal, path, limit, django_assert_num_queries
):
    with django_assert_num_queries(LISTS[path]):
        response = portal.get(path, {"limit": limit})
    assert response.status_code == 200
    assert len(response.json()["items"]) == limit
    assert response.json()["pagination"]["total_count"] == 30


@pytest.mark.parametrize(
    "path", ["/v1/customer-portal/customers/me", "/v1/customer-portal/customer-session/introspect"]
)
def test_the_customer_and_the_session_are_one_query(portal, path, django_assert_num_queries):
    # the session with its customer and organization: nothing else to read
    with django_assert_num_queries(1):
        response = portal.get(path)
    assert response.status_code == 200


def test_a_short_page_proves_its_total(portal, django_assert_num_queries):
    # the session, the page (30 rows on a page of 100 are all of them) with its products
    # and subscriptions: no count
    with django_assert_num_queries(4):
        response = portal.get("/v1/customer-portal/orders/", {"limit": 100})
    assert response.json()["pagination"] == {"total_count": 30, "max_page": 1}

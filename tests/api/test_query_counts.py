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
    product = ProductFactory(organization=organization)
    for _ in range(30):
        customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
        subscription = SubscriptionFactory(customer=customer, product=product)
        OrderFactory(customer=customer, product=product, subscription=subscription)


# Each: the token with its organization, the count, one page of rows with everything
# they show joined in.
LISTS = {
    "/v1/customers/": 3,
    "/v1/orders/": 3,  # rows joined to customer, product and subscription
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
    # token, count, page: the search, the active EXISTS and the metadata match all sit
    # in the same two queries
    with django_assert_num_queries(3):
        response = api.get(
            "/v1/customers/",
            {"limit": 100, "query": "example", "active": "true", "metadata[plan]": "pro"},
        )
    assert len(response.json()["items"]) == 30


def test_get_by_external_id_is_two_queries(api, organization, django_assert_num_queries):
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    CustomerFactory(organization=organization, external_id="usr_1")
    # the token with its organization, the customer
    with django_assert_num_queries(2):
        assert api.get("/v1/customers/external/usr_1").status_code == 200

"""Two deletes of one customer at once: one 204, and the loser a 404 (the customer is
gone), never a 422 as if its request were malformed."""

import threading

import httpx
import pytest

from customers import api as customers_api
from customers import services
from customers.models import Customer
from tests.factories import CustomerFactory


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v1/customers/{id}", "/v1/customers/external/usr_1"])
def test_deleting_a_customer_deleted_meanwhile_is_a_404(api, organization, monkeypatch, path):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    stale = Customer.objects.get(pk=customer.pk)
    lookup = "_id_lookup" if "{id}" in path else "_external_id_lookup"
    real = getattr(customers_api, lookup)

    def found_then_deleted_by_someone_else(request, key):
        found = real(request, key)
        services.customer_delete(customer=stale)  # the other request wins here
        return found

    monkeypatch.setattr(customers_api, lookup, found_then_deleted_by_someone_else)
    response = api.delete(path.format(id=customer.pk))
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}


@pytest.mark.django_db
def test_the_service_says_the_customer_is_gone(organization):
    customer = CustomerFactory(organization=organization)
    stale = Customer.objects.get(pk=customer.pk)
    services.customer_delete(customer=customer)
    with pytest.raises(Customer.DoesNotExist):
        services.customer_delete(customer=stale)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deletes_give_one_204_and_one_404(
    postgres_only, live_server, token, organization
):
    customer = CustomerFactory(organization=organization)
    barrier = threading.Barrier(2)
    statuses = []

    def delete():
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            barrier.wait()
            response = client.delete(
                f"/v1/customers/{customer.pk}", headers={"Authorization": f"Bearer {token}"}
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204, 404]

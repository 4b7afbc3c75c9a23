"""A customer deleted in another tab between a page's lookup and its write: every write
answers 404, on the dashboard as in the API, and never a 500."""

import pytest
from django.urls import reverse

from customers import services
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, email="ada@example.com", metadata={"k": 1})


@pytest.fixture
def deleted_meanwhile(monkeypatch):
    """Make the named service find its customer deleted by someone else first."""

    def race(name):
        real = getattr(services, name)
        delete = services.customer_delete

        def racing(*, customer, **kwargs):
            delete(customer=customer)  # the other tab wins
            return real(customer=customer, **kwargs)

        monkeypatch.setattr(services, name, racing)

    return race


def test_a_second_delete_from_the_dashboard_is_a_404(client, owner, customer, deleted_meanwhile):
    deleted_meanwhile("customer_delete")
    client.force_login(owner)
    url = reverse("customers:delete", args=[customer.organization.slug, customer.pk])
    response = client.post(url, {"confirm_email": "ada@example.com"})
    assert response.status_code == 404


def test_a_metadata_edit_of_a_deleted_customer_is_a_404(client, owner, customer, deleted_meanwhile):
    deleted_meanwhile("customer_set_metadata_key")
    client.force_login(owner)
    url = reverse("customers:metadata", args=[customer.organization.slug, customer.pk])
    response = client.post(url, {"key": "plan", "value": "pro", "type": "string"})
    assert response.status_code == 404


def test_an_api_update_of_a_customer_deleted_meanwhile_is_a_404(api, customer, deleted_meanwhile):
    deleted_meanwhile("customer_update")
    response = api.patch(
        f"/v1/customers/{customer.pk}", {"name": "Ghost"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}

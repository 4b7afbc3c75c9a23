"""`GET /v1/customers/{id}/data-export` and `POST /v1/customers/{id}/erase` (our extension):
scopes, the download, the erased profile, erasing twice, another organization's customer."""

import json

import pytest
from django.test import Client

from activity.models import Entry
from customers import services
from customers.models import Customer
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(organization):
    customer = services.customer_create(
        organization=organization,
        email="grace@example.com",
        name="Grace Hopper",
        external_id="usr_grace",
        metadata={"plan": "pro"},
    )
    OrderFactory(customer=customer, organization=customer.organization)
    return customer


def test_the_export_downloads_one_json_document(api, customer):
    response = api.get(f"/v1/customers/{customer.pk}/data-export")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="acme-customer-{customer.pk}-export-')
    document = json.loads(b"".join(response.streaming_content))
    assert document["format_version"] == 1
    assert document["customer"]["email"] == "grace@example.com"
    assert len(document["orders"]) == 1
    entry = Entry.objects.get(customer=customer, type="customer.exported")
    assert (entry.actor_type, entry.source) == ("token", "api")


def test_the_export_by_external_id_is_the_same_customer(api, customer):
    response = api.get("/v1/customers/external/usr_grace/data-export")
    document = json.loads(b"".join(response.streaming_content))
    assert document["customer"]["id"] == str(customer.pk)


def test_erase_answers_the_erased_profile_and_a_second_erase_is_404(api, customer):
    response = api.post(f"/v1/customers/{customer.pk}/erase")

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == f"erased-{customer.pk}@erased.invalid"
    assert body["name"] is None and body["external_id"] is None
    assert body["metadata"] == {"__external_id": "usr_grace"}
    assert body["deleted_at"] is not None
    entry = Entry.objects.get(customer=customer, type="customer.erased")
    assert entry.actor_type == "token"

    again = api.post(f"/v1/customers/{customer.pk}/erase")
    assert again.status_code == 404
    assert again.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    assert api.get(f"/v1/customers/{customer.pk}/data-export").status_code == 404


def test_erase_by_external_id(api, customer):
    response = api.post("/v1/customers/external/usr_grace/erase")
    assert response.status_code == 200
    assert Customer.objects.get(pk=customer.pk).erased_at is not None


def test_a_read_only_token_can_export_but_not_erase(make_token, organization, customer):
    client = Client(
        headers={"Authorization": f"Bearer {make_token(organization, ['customers:read'])}"}
    )

    assert client.get(f"/v1/customers/{customer.pk}/data-export").status_code == 200
    response = client.post(f"/v1/customers/{customer.pk}/erase")
    assert response.status_code == 403
    assert Customer.objects.get(pk=customer.pk).erased_at is None


def test_another_organizations_token_gets_404_and_erases_nothing(outsider_token, customer):
    client = Client(headers={"Authorization": f"Bearer {outsider_token}"})
    assert client.post(f"/v1/customers/{customer.pk}/erase").status_code == 404
    assert client.get(f"/v1/customers/{customer.pk}/data-export").status_code == 404
    assert Customer.objects.get(pk=customer.pk).erased_at is None


def test_a_malformed_id_is_404(api):
    assert api.post("/v1/customers/not-a-uuid/erase").status_code == 404


def test_the_operations_are_tagged_as_our_extension():
    from config.api import api as ninja_api

    paths = ninja_api.get_openapi_schema()["paths"]
    assert paths["/v1/customers/{id}/erase"]["post"]["tags"] == ["privacy (extension)"]
    assert paths["/v1/customers/{id}/data-export"]["get"]["tags"] == ["privacy (extension)"]

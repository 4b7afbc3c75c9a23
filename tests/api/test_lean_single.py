"""A single customer (get, create, update) is sent as `customer_out` gives it, encoded by
core.api.json_response, as the lists are: the bytes parse to what ninja's schema path
would send (see tests/api/test_lean_reads.py)."""

import json

import pytest

from customers.models import Customer
from customers.schemas import CustomerOut, customer_out
from tests.api.test_lean_reads import ninja_json, same_json
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

RICH = {
    "email": "zoe@exämple.com",
    "name": 'Zoë 🚀 "q" \\',
    "external_id": "ext_ü",
    "metadata": {"plan": "pro ✓", "seats": 3, "ratio": 0.25, "whole": 2.0, "beta": True},
    "billing_address": {"line1": "12 Rue de Rivoli", "city": "Paris", "country": "FR"},
    "tax_id": "FR123",
    "locale": "fr",
}


def stored(organization, **lookup) -> dict:
    customer = Customer.objects.for_org(organization).get(**lookup)
    return ninja_json(CustomerOut, customer_out(customer))


def test_create_get_and_update_send_what_the_schema_would(api, organization):
    created = api.post("/v1/customers/", RICH, content_type="application/json")
    assert created.status_code == 201
    assert created["Content-Type"] == "application/json; charset=utf-8"
    # Equal as JSON (metadata keys come back in the order sent, where PostgreSQL's jsonb
    # stores them in its own order).
    assert json.loads(created.content) == stored(organization, external_id="ext_ü")
    customer_id = json.loads(created.content)["id"]

    for path in (f"/v1/customers/{customer_id}", "/v1/customers/external/ext_ü"):
        got = api.get(path)
        assert got.status_code == 200
        same_json(got.content, stored(organization, pk=customer_id))

    updated = api.patch(
        "/v1/customers/external/ext_ü",
        {"metadata": {"n": 2**70}, "billing_address": None},
        content_type="application/json",
    )
    assert updated.status_code == 200
    assert json.loads(updated.content) == stored(organization, pk=customer_id)
    assert json.loads(updated.content)["metadata"] == {"n": 2**70}
    assert json.loads(updated.content)["billing_address"] is None


def test_a_plain_customer_too(api, organization):
    customer = CustomerFactory(organization=organization, name="", metadata={})
    same_json(api.get(f"/v1/customers/{customer.pk}").content, stored(organization, pk=customer.pk))

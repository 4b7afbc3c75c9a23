"""NUL characters, which PostgreSQL cannot store in text: refused before they reach the
database (a 422 naming the field in the API, a 400 on pages), while text that merely
looks like an escape of one is kept as typed."""

import json

import pytest
from django.urls import reverse

from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def post_json(api, path, body, method="post"):
    return getattr(api, method)(path, data=json.dumps(body), content_type="application/json")


def test_the_api_refuses_a_nul_naming_its_field(api):
    response = post_json(api, "/v1/customers/", {"email": "a@x.io", "name": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert not Customer.objects.exists()


def test_the_api_refuses_a_nul_in_a_metadata_key(api):
    response = post_json(api, "/v1/customers/", {"email": "a@x.io", "metadata": {"k\x00": 1}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "metadata", "k\\u0000"]


def test_an_escaped_backslash_before_u0000_is_ordinary_text(api):
    # The JSON text a\\u0000 is "a", a backslash, then "u0000": no NUL anywhere.
    response = post_json(api, "/v1/customers/", {"email": "a@x.io", "name": "a\\u0000"})
    assert response.status_code == 201, response.content
    assert Customer.objects.get().name == "a\\u0000"


def test_a_literal_percent_00_in_json_is_ordinary_text(api, organization):
    customer = CustomerFactory(organization=organization)
    response = post_json(
        api, f"/v1/customers/{customer.pk}", {"metadata": {"deal": "100%00"}}, method="patch"
    )
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.metadata == {"deal": "100%00"}


def test_a_raw_nul_byte_in_an_api_body_is_refused(api):
    response = api.post(
        "/v1/customers/",
        data=b'{"email": "a@x.io", "name": "a\x00"}',
        content_type="application/json",
    )
    assert response.status_code == 422


def test_a_form_posting_a_nul_gets_a_400(client, owner, organization):
    client.force_login(owner)
    url = reverse("customers:create", args=[organization.slug])
    response = client.post(
        url, data="email=a%40x.io&name=a%00b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_a_nul_in_the_query_string_is_refused(api):
    assert api.get("/v1/customers/?email=a%00").status_code == 422

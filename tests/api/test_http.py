"""Plain HTTP: error bodies, bad input of every kind, token states and scopes."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from organizations.models import OrganizationAccessToken
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def post(client, path, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def test_malformed_json_is_a_400(api):
    response = post(api, "/v1/customers/", '{"email": ')
    assert response.status_code == 400
    assert response.json() == {"error": "BadRequest", "detail": "Cannot parse request body"}


def test_wrong_types_are_a_422_in_polars_shape(api):
    response = post(api, "/v1/customers/", {"email": 42, "metadata": "not an object"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "PolarRequestValidationError"
    locations = {tuple(d["loc"]) for d in body["detail"]}
    assert ("body", "email") in locations
    assert ("body", "metadata") in locations
    for detail in body["detail"]:
        assert set(detail) == {"type", "loc", "msg", "input"}


def test_a_missing_required_field_is_a_422(api):
    response = post(api, "/v1/customers/", {"name": "No email"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


def test_an_oversized_body_is_a_4xx_not_a_500(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(api, "/v1/customers/", {"email": "a@example.com", "name": "x" * 5000})
    assert response.status_code == 413
    assert response.json() == {
        "error": "PayloadTooLarge",
        "detail": "The request body is too large.",
    }


@pytest.mark.parametrize(
    "path", ["/v1/customers/", "/v1/orders/", "/v1/subscriptions/", "/v1/products/"]
)
def test_an_unknown_sort_key_is_a_422(api, path):
    response = api.get(path, {"sorting": "password"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", "sorting", 0]
    assert "'created_at'" in detail["msg"] and "'-created_at'" in detail["msg"]


@pytest.mark.parametrize("params", [{"page": 0}, {"limit": 0}, {"page": "x"}, {"active": "maybe"}])
def test_bad_paging_and_filters_are_a_422(api, params):
    assert api.get("/v1/customers/", params).status_code == 422


def test_limit_is_capped_at_100(api, organization):
    CustomerFactory.create_batch(105, organization=organization)
    body = api.get("/v1/customers/", {"limit": 500}).json()
    assert len(body["items"]) == 100
    assert body["pagination"] == {"total_count": 105, "max_page": 2}


def test_a_page_past_the_end_is_empty(api, organization):
    CustomerFactory(organization=organization)
    body = api.get("/v1/customers/", {"page": 7}).json()
    assert body == {"items": [], "pagination": {"total_count": 1, "max_page": 1}}


def test_a_changed_external_id_is_a_422_with_polars_message(api, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    response = api.patch(
        f"/v1/customers/{customer.pk}",
        data={"external_id": "usr_2"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "type": "value_error",
            "loc": ["body", "external_id"],
            "msg": "Customer external ID cannot be updated.",
            "input": None,
        }
    ]


def test_a_revoked_token_is_refused(client, organization, make_token):
    secret = make_token(organization)
    OrganizationAccessToken.objects.update(revoked_at=timezone.now())
    response = client.get("/v1/customers/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_an_expired_token_is_refused(client, organization, make_token):
    secret = make_token(organization, expires_in_days=1)
    OrganizationAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/v1/customers/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (["customers:read"], "get", "/v1/customers/", 200),
        (["customers:write"], "get", "/v1/customers/", 200),
        (["orders:read"], "get", "/v1/customers/", 403),
        (["customers:read"], "post", "/v1/customers/", 403),
        (["customers:read"], "get", "/v1/orders/", 403),
        (["subscriptions:read"], "get", "/v1/subscriptions/", 200),
        (["products:read"], "post", "/v1/products/", 403),
    ],
)
def test_scopes_are_enforced(organization, make_token, scopes, method, path, status):
    client = Client(headers={"Authorization": f"Bearer {make_token(organization, scopes)}"})
    response = getattr(client, method)(
        path, data={} if method == "post" else None, content_type="application/json"
    )
    if status == 403:
        assert response.status_code == 403
        assert response.json()["error"] == "NotPermitted"
        assert "lacks the scope" in response.json()["detail"]
    else:
        assert response.status_code == status


def test_the_token_records_when_it_was_last_used(client, organization, make_token):
    secret = make_token(organization)
    client.get("/v1/customers/", headers={"Authorization": f"Bearer {secret}"})
    assert OrganizationAccessToken.objects.get().last_used_at is not None


def test_the_openapi_document_and_docs_are_served(client):
    schema = client.get("/v1/openapi.json").json()
    assert "/v1/customers/external/{external_id}" in schema["paths"]
    assert client.get("/v1/docs").status_code == 200


def test_the_csv_export_streams_in_batches_and_keeps_every_row(api, organization):
    import csv
    import io

    CustomerFactory.create_batch(
        300, organization=organization, name="N" * 200, metadata={"plan": "pro"}
    )
    response = api.get("/v1/customers/export")
    chunks = list(response.streaming_content)
    assert len(chunks) > 1  # more than one 64 KB piece
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 300
    assert json.loads(rows[0]["metadata"]) == {"plan": "pro"}

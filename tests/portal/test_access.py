"""Every portal operation: no token, an organization's token and a malformed one are 401s;
another customer's session (of this organization or another) never reaches Ada's rows.
The walk over the OpenAPI document fails when a portal operation is added without an
entry here (tests/api/test_access.py leaves these operations to this file)."""

import json

import pytest
from django.test import Client

from config.api import api as ninja_api
from tests.portal.helpers import portal_client

pytestmark = pytest.mark.django_db

PORTAL = "/v1/customer-portal/"

# (method, path) -> (body, what another customer gets: 404, "list" (a 200 without Ada's
# rows) or "own" (a 200 about themselves))
PORTAL_OPERATIONS = {
    ("get", "/v1/customer-portal/customer-session/introspect"): (None, "own"),
    ("get", "/v1/customer-portal/customers/me"): (None, "own"),
    ("patch", "/v1/customer-portal/customers/me"): ({"name": "Hijacked"}, "own"),
    ("get", "/v1/customer-portal/orders/"): (None, "list"),
    ("get", "/v1/customer-portal/orders/{id}"): (None, 404),
    ("get", "/v1/customer-portal/orders/{id}/receipt"): (None, 404),
    ("get", "/v1/customer-portal/subscriptions/"): (None, "list"),
    ("get", "/v1/customer-portal/subscriptions/{id}"): (None, 404),
    ("patch", "/v1/customer-portal/subscriptions/{id}"): ({"cancel_at_period_end": True}, 404),
    ("delete", "/v1/customer-portal/subscriptions/{id}"): (None, 404),
}


def test_every_portal_operation_has_access_tests():
    schema = ninja_api.get_openapi_schema()
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith(PORTAL)
    }
    assert operations == set(PORTAL_OPERATIONS)


def _url(path, shop):
    rows = shop["subscription"] if "/subscriptions/" in path else shop["renewal"]
    return path.format(id=rows.pk)


def _call(client, method, path, body):
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


@pytest.mark.parametrize(("method", "path"), sorted(PORTAL_OPERATIONS))
@pytest.mark.parametrize("who", ["nobody", "organization token", "malformed"])
def test_without_a_customer_session_it_is_a_401(shop, token, method, path, who):
    headers = {
        "nobody": {},
        "organization token": {"Authorization": f"Bearer {token}"},
        "malformed": {"Authorization": "Bearer polar_cst_nope"},
    }[who]
    body, _ = PORTAL_OPERATIONS[(method, path)]
    response = _call(Client(headers=headers), method, _url(path, shop), body)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "A valid access token is required.",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def _ada_rows(shop):
    ada, subscription = shop["ada"], shop["subscription"]
    ada.refresh_from_db()
    subscription.refresh_from_db()
    return (ada.name, ada.version, subscription.cancel_at_period_end, subscription.status)


@pytest.mark.parametrize(("method", "path"), sorted(PORTAL_OPERATIONS))
@pytest.mark.parametrize("whose", ["grace", "otto"])
def test_another_customers_session_never_reaches_adas_rows(shop, method, path, whose):
    body, outcome = PORTAL_OPERATIONS[(method, path)]
    before = _ada_rows(shop)
    response = _call(portal_client(shop[whose]), method, _url(path, shop), body)
    if outcome == 404:
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    elif outcome == "list":
        assert response.status_code == 200
        ids = {item["id"] for item in response.json()["items"]}
        assert ids.isdisjoint({str(shop["renewal"].pk), str(shop["subscription"].pk)})
        assert ids  # their own rows, though
    else:
        assert response.status_code == 200
        if "id" in response.json():
            assert response.json()["id"] == str(shop[whose].pk)
    assert _ada_rows(shop) == before


def test_a_malformed_id_is_a_404(ada_portal):
    for path in ("orders/nope", "orders/nope/receipt", "subscriptions/nope"):
        response = ada_portal.get(PORTAL + path)
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}

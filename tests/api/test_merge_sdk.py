"""The merge API (our extension, "Customers (merge)") over plain HTTP, and the merged
customer's old IDs resolving to the survivor through the official polar-sdk client."""

import json

import pytest

from customers.duplicates import scan_organization
from customers.models import Customer
from customers.services import customer_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(organization):
    return customer_create(
        organization=organization, email="ada@example.com", name="Ada", external_id="usr_ada"
    )


@pytest.fixture
def twin(organization):
    return customer_create(
        organization=organization,
        email="ada+shop@example.com",
        name="Ada Lovelace",
        external_id="shop_7",
        metadata={"source": "shop"},
    )


def post(api, path, body):
    return api.post(path, data=json.dumps(body), content_type="application/json")


def merged(api, ada, twin) -> dict:
    preview = post(api, f"/v1/customers/{ada.pk}/merge-preview", {"from_customer_id": str(twin.pk)})
    assert preview.status_code == 200
    body = {"from_customer_id": str(twin.pk), "expected_versions": preview.json()["versions"]}
    response = post(api, f"/v1/customers/{ada.pk}/merge", body)
    assert response.status_code == 200, response.json()
    return response.json()


# --- Plain HTTP ---------------------------------------------------------------------------


def test_duplicates_are_listed_with_polars_pagination(api, organization, ada, twin):
    from datetime import timedelta

    scan_organization(organization.pk, lag=timedelta(0))
    response = api.get("/v1/customers/duplicates")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"total_count": 1, "max_page": 1}
    (pair,) = body["items"]
    assert {pair["customer"]["id"], pair["other"]["id"]} == {str(ada.pk), str(twin.pk)}
    assert pair["reasons"] == ["email"] and 0 < pair["score"] <= 1


def test_the_duplicates_route_is_not_taken_for_a_customer_id(api):
    # Under /v1/customers/{id} it would be a 404 for a malformed ID.
    assert api.get("/v1/customers/duplicates").status_code == 200


def test_the_preview_writes_nothing(api, ada, twin):
    response = post(
        api,
        f"/v1/customers/{ada.pk}/merge-preview",
        {"from_customer_id": str(twin.pk), "fields": {"name": "from_customer"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["versions"] == {"customer": 1, "from_customer": 1}
    assert body["external_id"] == "usr_ada" and body["external_id_alias"] == "shop_7"
    name = next(row for row in body["fields"] if row["field"] == "name")
    assert name == {
        "field": "name", "group": "name", "choice": "from_customer",
        "customer": "Ada", "from_customer": "Ada Lovelace", "result": "Ada Lovelace",
    }  # fmt: skip
    assert body["moves"]["orders"] == 0
    assert not Customer.objects.get(pk=twin.pk).is_deleted
    assert Customer.objects.get(pk=ada.pk).name == "Ada"


def test_the_merge_answers_with_the_survivor(api, ada, twin):
    body = merged(api, ada, twin)
    assert body["customer"]["id"] == str(ada.pk)
    assert body["customer"]["metadata"] == {"source": "shop"}
    assert body["merged_customer_id"] == str(twin.pk)


def test_a_stale_version_is_a_409(api, ada, twin):
    api.patch(
        f"/v1/customers/{twin.pk}", data=json.dumps({"name": "X"}), content_type="application/json"
    )
    response = post(
        api,
        f"/v1/customers/{ada.pk}/merge",
        {
            "from_customer_id": str(twin.pk),
            "expected_versions": {"customer": 1, "from_customer": 1},
        },
    )
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert "changed since the preview" in response.json()["detail"]


def test_merging_a_customer_merged_away_is_a_409(api, organization, ada, twin):
    merged(api, ada, twin)
    third = customer_create(organization=organization, email="third@example.com")
    response = post(api, f"/v1/customers/{third.pk}/merge", {"from_customer_id": str(twin.pk)})
    assert response.status_code == 409
    assert str(ada.pk) in response.json()["detail"]


def test_into_itself_is_a_422(api, ada):
    response = post(api, f"/v1/customers/{ada.pk}/merge", {"from_customer_id": str(ada.pk)})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "from_customer_id"]


def test_another_organizations_customer_is_a_404(api, ada, other_organization):
    theirs = customer_create(organization=other_organization, email="them@example.com")
    for survivor, other in ((ada, theirs), (theirs, ada)):
        response = post(
            api, f"/v1/customers/{survivor.pk}/merge", {"from_customer_id": str(other.pk)}
        )
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    assert not Customer.objects.get(pk=theirs.pk).is_deleted


def test_a_bad_choice_is_a_422(api, ada, twin):
    response = post(
        api,
        f"/v1/customers/{ada.pk}/merge",
        {"from_customer_id": str(twin.pk), "fields": {"email": "both"}},
    )
    assert response.status_code == 422


def test_merging_needs_the_write_scope(client, make_token, organization, ada, twin):
    token = make_token(organization, scopes=["customers:read"])
    headers = {"Authorization": f"Bearer {token}"}
    body = json.dumps({"from_customer_id": str(twin.pk)})
    preview = client.post(
        f"/v1/customers/{ada.pk}/merge-preview", data=body, content_type="application/json",
        headers=headers,
    )  # fmt: skip
    assert preview.status_code == 200
    response = client.post(
        f"/v1/customers/{ada.pk}/merge", data=body, content_type="application/json",
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 403


def test_old_ids_answer_over_http_for_get_patch_and_delete(api, ada, twin):
    merged(api, ada, twin)
    for path in (f"/v1/customers/{twin.pk}", "/v1/customers/external/shop_7"):
        response = api.get(path)
        assert response.status_code == 200 and response.json()["id"] == str(ada.pk)
    patched = api.patch(
        "/v1/customers/external/shop_7",
        data=json.dumps({"name": "Countess"}),
        content_type="application/json",
    )
    assert patched.json()["id"] == str(ada.pk) and patched.json()["name"] == "Countess"
    assert api.get(f"/v1/customers/{twin.pk}/state").json()["id"] == str(ada.pk)
    assert api.delete(f"/v1/customers/{twin.pk}").status_code == 204
    assert Customer.objects.get(pk=ada.pk).is_deleted
    assert api.get("/v1/customers/external/shop_7").status_code == 404


# --- polar-sdk ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_old_id_and_old_external_id_resolve_to_the_survivor_through_the_sdk(
    sdk, api, organization, ada, twin
):
    merged(api, ada, twin)
    assert sdk.customers.get(id=str(twin.pk)).id == str(ada.pk)
    found = sdk.customers.get_external(external_id="shop_7")
    assert found.id == str(ada.pk) and found.external_id == "usr_ada"
    updated = sdk.customers.update_external(external_id="shop_7", name="Countess Lovelace")
    assert updated.id == str(ada.pk) and updated.name == "Countess Lovelace"
    updated = sdk.customers.update(id=str(twin.pk), metadata={"plan": "pro"})
    assert updated.id == str(ada.pk) and updated.metadata == {"plan": "pro"}
    sdk.customers.delete_external(external_id="shop_7")
    assert Customer.objects.get(pk=ada.pk).is_deleted


@pytest.mark.django_db(transaction=True)
def test_a_survivor_without_external_id_answers_to_the_merged_ones_through_the_sdk(
    sdk, api, organization, twin
):
    plain = customer_create(organization=organization, email="plain@example.com")
    merged(api, plain, twin)
    found = sdk.customers.get_external(external_id="shop_7")
    assert found.id == str(plain.pk) and found.external_id == "shop_7"
    assert sdk.customers.get(id=str(twin.pk)).id == str(plain.pk)


def test_the_duplicates_list_query_count(api, organization, django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from organizations.models import OrganizationAccessToken

    for n in range(12):
        customer_create(organization=organization, email=f"dup{n}@example.com")
        customer_create(organization=organization, email=f"dup{n}+x@example.com")
    scan_organization(organization.pk, lag=timedelta(0))
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    # token, the page of pairs with both customers, the count (a full first page)
    with django_assert_num_queries(3):
        response = api.get("/v1/customers/duplicates", {"limit": 10})
    assert response.json()["pagination"] == {"total_count": 12, "max_page": 2}
    # token, the page (short: it proves the total)
    with django_assert_num_queries(2):
        response = api.get("/v1/customers/duplicates", {"limit": 10, "page": 2})
    assert len(response.json()["items"]) == 2


def test_an_old_external_id_costs_two_statements_more(api, ada, twin, django_assert_num_queries):
    from django.utils import timezone

    from organizations.models import OrganizationAccessToken

    merged(api, ada, twin)
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    # token, no live customer has it, the alias, the survivor
    with django_assert_num_queries(4):
        assert api.get("/v1/customers/external/shop_7").json()["id"] == str(ada.pk)

"""`/v1/customer-imports/`: upload, read, errors CSV, apply, cancel; scopes and tenancy."""

import pytest
from django.test import Client

from customers.models import Customer
from imports.models import CustomerImport
from tests.imports.conftest import run_all

pytestmark = pytest.mark.django_db

FILE = b"email,external_id,name\nada@example.com,u1,Ada\nbo@example.com,u2,Bo\n"


@pytest.fixture
def client_with(make_token):
    def make(organization, scope="customers:write"):
        raw = make_token(organization, scopes=[scope]) if scope else None
        return Client(headers={"Authorization": f"Bearer {raw}"} if raw else {})

    return make


def upload(client, data: bytes = FILE, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/v1/customer-imports/",
        {"file": SimpleUploadedFile("people.csv", data, content_type="text/csv"), **fields},
    )


def test_an_import_is_uploaded_checked_applied_and_read(organization, client_with):
    client = client_with(organization)
    response = upload(client, mode="create")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "validating" and body["mode"] == "create"
    assert body["filename"] == "people.csv"
    assert [c["target"] for c in body["mapping"]] == ["email", "external_id", "name"]
    run_all()
    body = client.get(f"/v1/customer-imports/{body['id']}").json()
    assert body["status"] == "ready"
    assert body["counts"] == {
        "create": 2, "update": 0, "unchanged": 0, "error": 0,
        "created": None, "updated": None, "skipped": None,
    }  # fmt: skip
    assert body["changes"][0]["row"] == 2 and body["changes"][0]["action"] == "create"
    response = client.post(
        f"/v1/customer-imports/{body['id']}/apply", content_type="application/json", data={}
    )
    assert response.status_code == 200 and response.json()["status"] == "applying"
    run_all()
    body = client.get(f"/v1/customer-imports/{body['id']}").json()
    assert body["status"] == "done" and body["progress"] == 1
    assert (body["counts"]["created"], body["counts"]["skipped"]) == (2, 0)
    assert Customer.objects.filter(organization=organization).count() == 2


def test_apply_is_refused_while_rows_have_errors_unless_skipped(organization, client_with):
    client = client_with(organization)
    data = b"email,name\nada@example.com,Ada\nnot-an-email,Bo\n"
    imported = upload(client, data).json()
    run_all()
    body = client.get(f"/v1/customer-imports/{imported['id']}").json()
    assert body["counts"]["error"] == 1
    response = client.post(
        f"/v1/customer-imports/{imported['id']}/apply", {}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "skip_errors"]
    errors = client.get(body["errors_url"])
    assert errors.status_code == 200 and errors["Content-Type"] == "text/csv"
    lines = b"".join(errors.streaming_content).decode().splitlines()
    assert lines == ["email,name,error", "not-an-email,Bo,email: Enter a valid email address."]
    response = client.post(
        f"/v1/customer-imports/{imported['id']}/apply",
        {"skip_errors": True},
        content_type="application/json",
    )
    assert response.status_code == 200
    run_all()
    body = client.get(f"/v1/customer-imports/{imported['id']}").json()
    assert (body["counts"]["created"], body["counts"]["skipped"]) == (1, 1)


def test_an_unreadable_file_is_refused_with_what_was_found(organization, client_with):
    response = upload(client_with(organization), b"\xff\xfee\x00m\x00")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]
    assert "UTF-16" in response.json()["detail"][0]["msg"]
    assert not CustomerImport.objects.exists()


def test_a_file_over_the_limit_is_a_413(organization, client_with, settings):
    settings.IMPORT_MAX_BYTES = 10
    response = upload(client_with(organization))
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_a_bad_mapping_or_option_is_a_422_naming_it(organization, client_with):
    client = client_with(organization)
    response = upload(client, mapping='{"Nope": "email"}')
    assert response.status_code == 422 and "no column 'Nope'" in str(response.json())
    response = upload(client, mapping='{"name": "metadata.plan:integer", "email": "ignore"}')
    assert response.status_code == 201  # external_id still matches the rows
    assert response.json()["mapping"][2] == {
        "column": "name", "target": "metadata.plan", "metadata_type": "integer",
    }  # fmt: skip
    response = upload(client, mapping='{"name": "metadata.a\\u0000b"}')
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "form",
        "mapping",
    ]
    response = upload(client, mode="sideways")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "mode"


def test_cancel_stops_an_import_and_a_finished_one_cannot_be_canceled(organization, client_with):
    client = client_with(organization)
    imported = upload(client).json()
    response = client.post(f"/v1/customer-imports/{imported['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    run_all()
    assert client.get(f"/v1/customer-imports/{imported['id']}").json()["status"] == "canceled"
    assert client.post(f"/v1/customer-imports/{imported['id']}/cancel").status_code == 422


def test_another_organizations_import_is_a_404_and_read_scope_is_refused(
    organization, other_organization, client_with
):
    imported = upload(client_with(organization)).json()
    outsider = client_with(other_organization)
    for path in ("", "/errors"):
        assert outsider.get(f"/v1/customer-imports/{imported['id']}{path}").status_code == 404
    for path in ("/apply", "/cancel"):
        url = f"/v1/customer-imports/{imported['id']}{path}"
        assert outsider.post(url, {}, content_type="application/json").status_code == 404
    assert (
        client_with(organization, "customers:read")
        .get(f"/v1/customer-imports/{imported['id']}")
        .status_code
        == 403
    )
    assert upload(client_with(organization, None)).status_code == 401
    assert Client().get("/v1/customer-imports/not-a-uuid").status_code == 401

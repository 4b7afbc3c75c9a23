"""Request logs: one JSON line per request with an ID; no secret or email in any log."""

import json
import logging

import pytest
from django.test import Client

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logs(caplog):
    """Every record as the console handler would write it (after the redacting filter)."""
    from core.observability import RedactSecretsFilter

    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RedactSecretsFilter())
    return caplog


def request_lines(logs) -> list[dict]:
    return [json.loads(r.getMessage()) for r in logs.records if r.name == "customers.requests"]


def test_each_request_logs_one_line_with_its_id(api, logs, organization):
    response = api.get("/v1/customers/")
    (line,) = request_lines(logs)
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/customers/", 200)
    assert line["organization"] == organization.slug
    assert line["duration_ms"] >= 0


def test_a_well_formed_incoming_request_id_is_kept(client, logs):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert response["X-Request-ID"] == "abc-123-def-456"
    bad = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert bad["X-Request-ID"] != "<script>"


def test_dashboard_lines_name_the_organization_from_the_url(client, owner, organization, logs):
    client.force_login(owner)
    client.get(f"/dashboard/{organization.slug}/customers/")
    assert request_lines(logs)[-1]["organization"] == organization.slug


def test_no_token_secret_password_or_email_reaches_the_logs(token, organization, logs, client):
    CustomerFactory(organization=organization, email="ada@example.com", external_id="x")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    api.get("/v1/customers/external/ada@example.com")  # an email as an external ID
    api.get("/v1/customers/?email=ada@example.com")
    Client(headers={"Authorization": "Bearer polar_oat_wrong"}).get("/v1/customers/")
    client.post("/login/", {"username": "ada@example.com", "password": "hunter2-secret"})
    logging.getLogger("anything").warning(
        "saw %s with whsec_c2VjcmV0 and password=hunter2 for bob@example.org", token
    )
    text = "\n".join(logs.handler.format(r) for r in logs.records)
    for secret in (token, "ada@example.com", "bob@example.org", "whsec_c2VjcmV0", "hunter2"):
        assert secret not in text
    assert "[email]" in text

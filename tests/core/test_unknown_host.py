"""A request for a host this server does not serve: the API and the health check answer
in JSON (Polar's error body), as clients and load balancers parse it; pages keep HTML."""

import pytest


@pytest.mark.parametrize("path", ["/healthz", "/v1/customers/", "/v1/nowhere"])
def test_an_unknown_host_gets_a_json_400(client, db, path):
    response = client.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "BadRequest",
        "detail": "The Host header names a site this server does not serve.",
    }


def test_a_page_for_an_unknown_host_stays_html(client, db):
    response = client.get("/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_known_host_is_served(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}

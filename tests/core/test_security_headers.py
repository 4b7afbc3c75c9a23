"""Security headers on pages and API responses, HTTPS settings, and the error pages."""

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.urls import path, reverse

from config import urls as project_urls
from organizations.services import access_token_create
from tests.conftest import PASSWORD
from tests.core.test_settings import run_django

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def assert_security_headers(response) -> None:
    for header, value in HEADERS.items():
        assert response.headers.get(header) == value, header


@pytest.fixture
def api_token(organization) -> str:
    _token, secret = access_token_create(
        organization=organization, name="CI", scopes=["customers:read"]
    )
    return secret


# --- Headers -------------------------------------------------------------------------------


def test_pages_carry_the_security_headers(client, owner, organization):
    assert_security_headers(client.get(reverse("login")))
    client.force_login(owner)
    response = client.get(reverse("customers:list", args=[organization.slug]))
    assert response.status_code == 200
    assert_security_headers(response)


def test_api_responses_carry_the_security_headers(client, api_token):
    response = client.get("/v1/customers/", headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_security_headers(response)
    # Errors too: a refused token, a validation error.
    assert_security_headers(client.get("/v1/customers/"))
    response = client.get(
        "/v1/customers/", {"limit": "many"}, headers={"Authorization": f"Bearer {api_token}"}
    )
    assert response.status_code == 422
    assert_security_headers(response)


def test_the_api_docs_are_served_from_our_own_static_files(client):
    page = client.get("/v1/docs").text
    assert "cdn.jsdelivr.net" not in page
    assert f"{settings.STATIC_URL}ninja/swagger-ui-bundle.js" in page


def test_no_strict_transport_security_or_secure_cookies_over_plain_http(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert "Strict-Transport-Security" not in response.headers
    assert not response.cookies[settings.SESSION_COOKIE_NAME]["secure"]


@pytest.fixture
def https_settings(settings):
    # What HTTPS=true sets (checked against the real environment below).
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    return settings


def test_with_https_pages_send_hsts_and_cookies_are_secure(client, owner, https_settings):
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response.url.startswith("https://")

    response = client.get(reverse("login"), secure=True)
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response.cookies[settings.CSRF_COOKIE_NAME]["secure"]
    response = client.post(
        reverse("login"), {"username": "owner", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["secure"]
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]


def test_with_https_api_responses_send_hsts(client, api_token, https_settings):
    response = client.get(
        "/v1/customers/", headers={"Authorization": f"Bearer {api_token}"}, secure=True
    )
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    assert_security_headers(response)


def test_https_true_in_the_environment_turns_it_all_on():
    result = run_django({"HTTPS": "true"}, "diffsettings")
    assert result.returncode == 0, result.stderr
    for line in [
        "SECURE_SSL_REDIRECT = True",
        "SECURE_HSTS_SECONDS = 31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS = True",
        "SECURE_HSTS_PRELOAD = True",
        "SESSION_COOKIE_SECURE = True",
        "CSRF_COOKIE_SECURE = True",
    ]:
        assert line in result.stdout.splitlines(), line


# --- Error pages ---------------------------------------------------------------------------


def boom(request: HttpRequest):
    raise RuntimeError("boom")


# The project's URLs plus two views that fail, with the project's error handlers.
urlpatterns = [path("boom/", boom), path("v1/boom/", boom), *project_urls.urlpatterns]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def test_an_unknown_page_gets_our_not_found_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Page not found" in response.text
    assert "css/app.css" in response.text
    assert_security_headers(response)


def test_another_organizations_page_gets_our_not_found_page(client, outsider, organization):
    client.force_login(outsider)
    response = client.get(reverse("customers:list", args=[organization.slug]))
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "outsider" in response.text  # the usual top bar, signed in


def test_an_unknown_api_path_gets_polars_json_404(client):
    response = client.get("/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    assert_security_headers(response)


def test_an_unknown_object_in_the_api_is_still_ninjas_json_404(client, api_token):
    response = client.get(
        "/v1/customers/00000000-0000-0000-0000-000000000000",
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert response.status_code == 404
    assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}


def test_a_crashing_page_gets_our_self_contained_error_page(
    client, settings, django_assert_num_queries
):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "css/app.css" in response.text
    assert_security_headers(response)
    # It renders with no request context and no database, which may be what failed.
    with django_assert_num_queries(0):
        page = project_urls.server_error(HttpRequest())
    assert b"Something went wrong" in page.content


def test_a_crash_under_the_api_gets_polars_json_500(client, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    response = client.get("/v1/boom/")
    assert response.status_code == 500
    assert response.json() == {
        "error": "InternalServerError",
        "detail": "Something went wrong on our side.",
    }

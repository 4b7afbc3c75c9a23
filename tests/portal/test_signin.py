"""Sign-in to the hosted portal by an emailed code: end to end through the outbox and a
real SMTP server, the same answer for strangers, 5 tries, 15 minutes, and the limits."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.emails import send_due_emails
from core.models import OutgoingEmail
from portal import signin
from portal.models import CustomerSession, PortalSignInCode
from portal.views import COOKIE_NAME

pytestmark = pytest.mark.django_db

HOME = "/portal/acme/"
SIGN_IN = "/portal/acme/sign-in/"
CODE = "/portal/acme/sign-in/code/"


@pytest.fixture(autouse=True)
def _sender(settings):
    settings.DEFAULT_FROM_EMAIL = "Customers <noreply@customers.example>"


def ask(client: Client, email: str):
    return client.post(SIGN_IN, {"email": email})


def enter(client: Client, email: str, code: str):
    return client.post(CODE, {"email": email, "code": code})


def known_code(organization, email: str) -> str:
    """Replace the latest code of `email` by one the test knows."""
    row = PortalSignInCode.objects.filter(email_lower=email).latest("created_at")
    row.code_hash = signin.code_hash(
        organization_id=organization.pk, email_lower=email, code="123456"
    )
    row.save()
    return "123456"


def test_sign_in_by_emailed_code_end_to_end(shop, smtp_server):
    client = Client()
    page = client.get(HOME)
    assert b"Email me a code" in page.content
    response = ask(client, "Ada@Example.com")
    assert response.status_code == 200
    assert b"Check your email" in response.content
    assert smtp_server.messages == []  # queued, sent by the worker

    assert send_due_emails() == 1
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert "Acme" in message["From"]
    text = message.get_body(("plain",)).get_content()
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert code in message.get_body(("html",)).get_content()
    # Only a hash of the code is stored.
    row = PortalSignInCode.objects.get()
    assert code not in row.code_hash

    response = enter(client, "Ada@Example.com", code)
    assert response.status_code == 302
    assert response["Location"] == HOME
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["path"] == "/portal/acme/" and cookie["httponly"]
    session = CustomerSession.objects.get()
    assert session.customer == shop["ada"]
    page = client.get(HOME)
    assert b"Pro plan" in page.content and b"ada@example.com" in page.content
    # A code works once.
    other = Client()
    assert enter(other, "ada@example.com", code).status_code == 422


def test_an_unknown_email_gets_the_same_answer_and_no_email(shop, smtp_server):
    known = ask(Client(), "ada@example.com")
    unknown = ask(Client(), "nobody@example.com")

    def strip(response) -> str:
        content = response.content.decode()
        return content.replace("ada@example.com", "X").replace("nobody@example.com", "X")

    csrf = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')
    assert unknown.status_code == known.status_code == 200
    assert csrf.sub("", strip(unknown)) == csrf.sub("", strip(known))
    # A code row is written for both; the email is queued for the customer only.
    assert PortalSignInCode.objects.count() == 2
    assert list(OutgoingEmail.objects.values_list("to", flat=True)) == ["ada@example.com"]
    send_due_emails()
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]
    # Another organization's customer is no customer here.
    ask(Client(), "otto@example.com")
    assert OutgoingEmail.objects.count() == 1


def test_five_wrong_tries_then_even_the_right_code_is_refused(shop, organization):
    client = Client()
    ask(client, "ada@example.com")
    code = known_code(organization, "ada@example.com")
    for _ in range(signin.MAX_ATTEMPTS):
        response = enter(client, "ada@example.com", "000000")
        assert response.status_code == 422
        assert b"That code is not right" in response.content
    response = enter(client, "ada@example.com", code)
    assert response.status_code == 422
    assert b"Too many wrong codes" in response.content
    assert not CustomerSession.objects.exists()
    assert PortalSignInCode.objects.get().attempts == signin.MAX_ATTEMPTS
    # A new code works.
    ask(client, "ada@example.com")
    assert (
        enter(client, "ada@example.com", known_code(organization, "ada@example.com")).status_code
        == 302
    )


def test_an_expired_code_is_refused(shop, organization):
    client = Client()
    ask(client, "ada@example.com")
    code = known_code(organization, "ada@example.com")
    PortalSignInCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = enter(client, "ada@example.com", code)
    assert response.status_code == 422
    assert b"expired" in response.content
    assert not CustomerSession.objects.exists()


def test_a_code_lasts_fifteen_minutes(shop):
    ask(Client(), "ada@example.com")
    row = PortalSignInCode.objects.get()
    assert timedelta(minutes=14) < row.expires_at - row.created_at <= timedelta(minutes=15)


def test_a_stranger_never_signs_in_even_with_the_right_code(shop, organization):
    client = Client()
    ask(client, "nobody@example.com")
    response = enter(client, "nobody@example.com", known_code(organization, "nobody@example.com"))
    assert response.status_code == 422
    assert not CustomerSession.objects.exists()


def test_codes_are_limited_per_email_with_retry_after(shop, settings):
    settings.PORTAL_SIGN_IN_CODES_PER_EMAIL_PER_HOUR = 2
    for _ in range(2):
        assert ask(Client(), "ada@example.com").status_code == 200
    response = ask(Client(), "ADA@example.com")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3601
    assert PortalSignInCode.objects.count() == 2
    # Another email is not held back by Ada's.
    assert ask(Client(), "grace@example.com").status_code == 200


def test_requests_are_limited_per_address(shop, settings):
    settings.PORTAL_SIGN_IN_REQUESTS_PER_ADDRESS_PER_HOUR = 3
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        assert ask(client, f"someone{n}@example.com").status_code == 200
    response = ask(client, "someone9@example.com")
    assert response.status_code == 429
    assert "Retry-After" in response
    assert enter(client, "someone0@example.com", "123456").status_code == 429
    assert ask(Client(REMOTE_ADDR="203.0.113.10"), "x@example.com").status_code == 200


def test_a_bad_email_or_code_shows_the_error_beside_the_field(shop):
    client = Client()
    response = ask(client, "not an email")
    assert response.status_code == 422
    assert b'id="id_email_error"' in response.content
    response = enter(client, "ada@example.com", "12ab")
    assert response.status_code == 422
    assert b'id="id_code_error"' in response.content


def test_the_sign_in_forms_need_the_csrf_token(shop):
    client = Client(enforce_csrf_checks=True)
    assert ask(client, "ada@example.com").status_code == 403
    assert not PortalSignInCode.objects.exists()

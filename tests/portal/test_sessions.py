"""Customer sessions: unguessable tokens stored only as hashes, a lifetime, revocation, and
the HTTP answers of `POST /v1/customer-sessions/`."""

import json
import math
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from core.models import IdempotencyKey
from portal.models import CustomerSession
from portal.services import (
    TOKEN_PREFIX,
    customer_session_authenticate,
    customer_session_create,
    customer_session_revoke,
    customer_sessions_revoke_all,
    hash_token,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SESSIONS = "/v1/customer-sessions/"


def post(client, body):
    return client.post(SESSIONS, data=json.dumps(body), content_type="application/json")


# --- Tokens -----------------------------------------------------------------------------


def test_tokens_are_long_random_and_never_repeat(organization):
    customer = CustomerFactory(organization=organization)
    tokens = [customer_session_create(customer=customer)[1] for _ in range(200)]
    assert len(set(tokens)) == 200
    for token in tokens:
        assert token.startswith(TOKEN_PREFIX)
        secret = token.removeprefix(TOKEN_PREFIX)
        # 32 random bytes in URL-safe base64: 43 characters of a 64-letter alphabet.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
        assert len(secret) * math.log2(64) >= 256


def test_only_the_hash_of_a_token_is_stored(organization):
    customer = CustomerFactory(organization=organization)
    session, token = customer_session_create(customer=customer)
    assert session.token_hash == hash_token(token) != token
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {CustomerSession._meta.db_table}")
        rows = cursor.fetchall()
    secret = token.removeprefix(TOKEN_PREFIX)
    for value in rows[0]:
        assert secret not in str(value)


def test_a_session_lasts_the_configured_time(organization, settings):
    settings.CUSTOMER_SESSION_TTL_SECONDS = 120
    now = timezone.now()
    customer = CustomerFactory(organization=organization)
    session, token = customer_session_create(customer=customer, now=now)
    assert session.expires_at == now + timedelta(seconds=120)
    assert customer_session_authenticate(token, now=now + timedelta(seconds=119)) == session
    assert customer_session_authenticate(token, now=now + timedelta(seconds=120)) is None


def test_a_revoked_session_and_a_deleted_customers_session_stop_working(organization):
    from customers.services import customer_delete

    customer = CustomerFactory(organization=organization)
    session, token = customer_session_create(customer=customer)
    customer_session_revoke(session=session)
    revoked_at = session.revoked_at
    assert customer_session_authenticate(token) is None
    customer_session_revoke(session=session)  # twice: a no-op
    assert session.revoked_at == revoked_at

    _, other = customer_session_create(customer=customer)
    assert customer_session_authenticate(other) is not None
    customer_delete(customer=customer)
    assert customer_session_authenticate(other) is None


def test_revoking_all_of_a_customers_sessions_leaves_others(organization):
    ada, grace = CustomerFactory.create_batch(2, organization=organization)
    tokens = [customer_session_create(customer=ada)[1] for _ in range(3)]
    _, graces = customer_session_create(customer=grace)
    assert customer_sessions_revoke_all(customer=ada) == 3
    assert [customer_session_authenticate(t) for t in tokens] == [None] * 3
    assert customer_session_authenticate(graces).customer == grace


@pytest.mark.parametrize(
    "token",
    ["", "polar_cst_", "polar_cst_guess", "polar_oat_" + "a" * 43, "polar_cst_" + "a" * 43],
)
def test_a_wrong_token_authenticates_nobody(organization, token):
    customer_session_create(customer=CustomerFactory(organization=organization))
    assert customer_session_authenticate(token) is None


# --- POST /v1/customer-sessions/ -------------------------------------------------------


def _body(response):
    return json.loads(b"".join(response.streaming_content))


def test_creating_a_session_answers_polars_shape(api, organization, settings):
    customer = CustomerFactory(organization=organization, external_id="user_42")
    response = post(api, {"external_customer_id": "user_42"})
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    body = _body(response)
    assert list(body) == [
        "created_at",
        "modified_at",
        "id",
        "token",
        "expires_at",
        "return_url",
        "customer_portal_url",
        "customer_id",
        "customer",
    ]
    assert body["customer"]["id"] == body["customer_id"] == str(customer.pk)
    assert body["customer_portal_url"] == (
        f"{settings.SITE_URL}/portal/acme/?customer_session_token={body['token']}"
    )
    session = CustomerSession.objects.get()
    assert (session.organization, session.customer, str(session.pk)) == (
        organization,
        customer,
        body["id"],
    )


def test_an_idempotency_key_never_stores_the_token(api, organization):
    CustomerFactory(organization=organization, external_id="user_42")
    tokens = []
    for _ in range(2):
        response = api.post(
            SESSIONS,
            data=json.dumps({"external_customer_id": "user_42"}),
            content_type="application/json",
            headers={"Idempotency-Key": "session-1"},
        )
        assert response.status_code == 201
        tokens.append(_body(response)["token"])
    # Nothing kept to replay: the retry opened a session of its own.
    assert tokens[0] != tokens[1]
    assert CustomerSession.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"customer_id": "0190d1b0-0000-7000-8000-000000000000", "external_customer_id": "x"}],
)
def test_one_of_the_two_ids_is_required(api, body):
    response = post(api, body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/", "not a url"])
def test_the_return_url_must_be_a_web_address(api, organization, url):
    CustomerFactory(organization=organization, external_id="user_42")
    response = post(api, {"external_customer_id": "user_42", "return_url": url})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "return_url"]
    assert CustomerSession.objects.count() == 0


def test_a_member_is_not_offered(api, organization):
    CustomerFactory(organization=organization, external_id="user_42")
    response = post(api, {"external_customer_id": "user_42", "member_id": "m_1"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "member_id"]


def test_a_customer_token_cannot_open_sessions(organization):
    customer = CustomerFactory(organization=organization, external_id="user_42")
    token = customer_session_create(customer=customer)[1]
    response = post(Client(headers={"Authorization": f"Bearer {token}"}), {"customer_id": "x"})
    assert response.status_code == 401


# --- Rate limit -------------------------------------------------------------------------


def test_the_rate_limit_counts_per_session(organization, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    customer = CustomerFactory(organization=organization)
    first, second = (
        Client(headers={"Authorization": f"Bearer {customer_session_create(customer=customer)[1]}"})
        for _ in range(2)
    )
    path = "/v1/customer-portal/customers/me"
    assert [first.get(path).status_code for _ in range(3)] == [200, 200, 429]
    assert first.get(path).json()["error"] == "TooManyRequests"
    assert second.get(path).status_code == 200

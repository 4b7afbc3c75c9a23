"""Idempotency-Key on API POSTs: retries replay, a changed body is refused, and two copies
arriving together create one row."""

import json
import threading
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from core.models import IdempotencyKey
from customers.models import Customer
from orders.models import Product

pytestmark = pytest.mark.django_db


def post(api, path, body, key):
    return api.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


@pytest.mark.parametrize(
    ("path", "body", "model"),
    [
        ("/v1/customers/", {"email": "ada@example.com", "metadata": {"plan": "pro"}}, Customer),
        (
            "/v1/products/",
            {"name": "Pro", "prices": [{"amount_type": "fixed", "price_amount": 900}]},
            Product,
        ),
    ],
)
def test_a_retry_replays_the_original_answer_and_writes_once(api, path, body, model):
    first = post(api, path, body, "key-1")
    second = post(api, path, body, "key-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert model.objects.count() == 1


def test_an_error_answer_is_replayed_too(api):
    body = {"email": "not-an-email"}
    first, second = post(api, "/v1/customers/", body, "k"), post(api, "/v1/customers/", body, "k")
    assert first.status_code == second.status_code == 422
    assert first.json() == second.json()


def test_the_same_key_with_a_different_body_is_refused(api):
    post(api, "/v1/customers/", {"email": "ada@example.com"}, "key-1")
    response = post(api, "/v1/customers/", {"email": "bob@example.com"}, "key-1")
    assert response.status_code == 422
    assert response.json()["error"] == "IdempotencyKeyReused"
    assert Customer.objects.count() == 1


def test_keys_belong_to_one_organization(api, outsider_token):
    post(api, "/v1/customers/", {"email": "ada@example.com"}, "shared-key")
    other = Client(headers={"Authorization": f"Bearer {outsider_token}"})
    response = post(other, "/v1/customers/", {"email": "ada@example.com"}, "shared-key")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Customer.objects.count() == 2


def test_a_key_expires_after_24_hours(api):
    post(api, "/v1/customers/", {"email": "ada@example.com"}, "key-1")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post(api, "/v1/customers/", {"email": "ada@example.com"}, "key-1")
    assert response.status_code == 422  # ran again: the email is now taken
    assert "already exists" in response.json()["detail"][0]["msg"]


def test_without_a_key_nothing_is_stored(api):
    api.post("/v1/customers/", data={"email": "a@example.com"}, content_type="application/json")
    assert IdempotencyKey.objects.count() == 0


def test_an_overlong_key_is_a_400(api):
    response = post(api, "/v1/customers/", {"email": "a@example.com"}, "k" * 256)
    assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_copies_at_the_same_moment_create_one_customer(postgres_only, live_server, token):
    barrier = threading.Barrier(2)
    responses = [None, None]

    def send(i):
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            barrier.wait()
            responses[i] = client.post(
                "/v1/customers/",
                json={"email": "ada@example.com", "metadata": {"n": 1}},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same-moment"},
            )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert Customer.objects.count() == 1

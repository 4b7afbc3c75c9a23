"""The one wait on the request path: a copy of an API POST (same Idempotency-Key, same body)
that arrives while the first is still running waits for its answer instead of running it
again. It is not a punishment (the copy would have cost as long to run), and it is bounded:
at most `WAIT_SECONDS` in all, then a 409 with Retry-After."""

import json
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.db import transaction

from core.models import IdempotencyKey
from organizations import idempotency

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """A fake clock: sleeping advances it, and nothing really sleeps."""
    state = SimpleNamespace(now=1000.0, slept=[], on_sleep=None)

    def sleep(seconds):
        state.slept.append(seconds)
        state.now += seconds
        if state.on_sleep:
            state.on_sleep()

    monkeypatch.setattr(
        idempotency, "time", SimpleNamespace(monotonic=lambda: state.now, sleep=sleep)
    )
    return state


def post(api, body, key="key-1"):
    return api.post(
        "/v1/customers/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


def still_running():
    """Make the stored answer look like its request has not finished yet."""
    IdempotencyKey.objects.update(status_code=None, response_body=None)


def test_a_copy_waits_at_most_wait_seconds_then_gets_a_409_with_retry_after(api, clock):
    body = {"email": "ada@example.com"}
    assert post(api, body).status_code == 201
    still_running()

    response = post(api, body)
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert response["Retry-After"] == "1"
    assert sum(clock.slept) == pytest.approx(idempotency.WAIT_SECONDS)
    assert max(clock.slept) <= idempotency.POLL_SECONDS


def test_a_copy_replays_the_answer_as_soon_as_the_first_finishes(api, clock):
    body = {"email": "ada@example.com"}
    first = post(api, body)
    answer = IdempotencyKey.objects.values("status_code", "response_body").get()
    still_running()

    def first_finishes():
        if len(clock.slept) == 3:
            IdempotencyKey.objects.update(**answer)

    clock.on_sleep = first_finishes
    response = post(api, body)
    assert response.status_code == 201
    assert response.json() == first.json()
    assert response["Idempotent-Replayed"] == "true"
    assert len(clock.slept) == 3


def test_the_wait_stays_bounded_when_the_key_keeps_changing_hands(api, clock, monkeypatch):
    """A first copy that fails lets go of the key and the waiting one tries to take it; if
    yet another copy grabs it first, the waiting one goes on waiting, on the same clock."""
    body = {"email": "ada@example.com"}
    post(api, body)
    still_running()
    running = IdempotencyKey.objects.values(
        "organization_id", "key", "request_hash", "expires_at"
    ).get()
    claims = []

    @contextmanager
    def another_copy_grabs_the_key_first():
        # Between the poll that found the key free and this claim, another copy took it.
        if not IdempotencyKey.objects.exists():
            IdempotencyKey.objects.create(**running)
        claims.append(1)
        with transaction.atomic():
            yield

    def the_holder_fails_and_lets_go():
        IdempotencyKey.objects.all().delete()

    clock.on_sleep = the_holder_fails_and_lets_go
    monkeypatch.setattr(
        idempotency, "transaction", SimpleNamespace(atomic=another_copy_grabs_the_key_first)
    )
    response = post(api, body)
    assert response.status_code == 409
    assert sum(clock.slept) == pytest.approx(idempotency.WAIT_SECONDS)
    assert len(claims) > 1  # it did try to take the key each time it was free

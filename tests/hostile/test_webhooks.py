"""Webhooks attacked: a worker's claim racing a coalescing write, batches that outlive
their lease, receivers that answer forever, an owner's edit racing the worker."""

import json
import threading

import pytest
from django.db import connection, transaction

from customers import services as customer_services
from tests.webhooks.conftest import Receiver
from webhooks import services
from webhooks.models import WebhookEvent
from webhooks.worker import deliver_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _allow_loopback_webhooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def send_until_idle(now=None):
    while deliver_due(now=now):
        pass


def assert_each_request_carries_its_stored_event(receiver):
    for request in receiver.requests:
        event = WebhookEvent.objects.get(pk=request["headers"]["webhook-id"])
        assert json.loads(request["body"]) == event.payload


# --- A claim whose statement began before a coalescing write committed -------------------

CLAIM_GATE = 4242


def _claim_waits_at_the_gate(execute, sql, params, many, context):
    """Hold the worker's claim statement after PostgreSQL took its snapshot and before it
    locks any row: the moment a coalescing write can commit unseen."""
    if "SKIP LOCKED" in sql:
        gate = f"(SELECT 1 FROM (SELECT pg_advisory_xact_lock_shared({CLAIM_GATE})) AS g) = 1"
        sql = sql.replace(" WHERE ", f" WHERE {gate} AND ", 1)
    return execute(sql, params, many, context)


def _waiting_at_the_gate() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s",
            [CLAIM_GATE],
        )
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_a_coalescing_write_sends_the_payload_that_was_stored(
    postgres_only, organization, receiver
):
    services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.state_changed"]
    )
    customer = customer_services.customer_create(organization=organization, email="a@x.io")

    def work():
        try:
            with connection.execute_wrapper(_claim_waits_at_the_gate):
                deliver_due()
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_GATE])
        worker.start()
        while not _waiting_at_the_gate():
            threading.Event().wait(0.01)
        # Nobody holds the deliveries yet, so this change coalesces into the waiting event.
        customer_services.customer_update(customer=customer, name="Newest name")
    worker.join()
    send_until_idle()

    assert_each_request_carries_its_stored_event(receiver)
    states = [json.loads(r["body"]) for r in receiver.requests]
    assert states[-1]["data"]["name"] == "Newest name"

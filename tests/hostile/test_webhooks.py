"""Webhooks attacked: a worker's claim racing a coalescing write, batches that outlive
their lease, receivers that answer forever, an owner's edit racing the worker."""

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.db import connection, transaction

from customers import services as customer_services
from tests.webhooks.conftest import Receiver
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from webhooks.worker import EXCERPT_LENGTH, LEASE, _claim, deliver_due

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
        assert json.loads(request["body"]) == event.document()


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


# --- A batch that outlives its lease ----------------------------------------------------


class SlowFirstSend:
    """An httpx client whose first request takes "longer than the lease": while it is in
    flight, another worker runs at a time past the lease and claims what is left."""

    def __init__(self, later):
        self.client = httpx.Client(timeout=5)
        self.later, self.calls = later, 0

    def stream(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            deliver_due(now=self.later)  # the other worker
        return self.client.stream(*args, **kwargs)


def test_a_worker_never_sends_what_another_worker_took_over_after_its_lease(organization, receiver):
    services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.created"]
    )
    for i in range(4):
        customer_services.customer_create(organization=organization, email=f"c{i}@x.io")
    start = datetime.now(UTC)
    slow = SlowFirstSend(later=start + 2 * LEASE)
    deliver_due(now=start, client=slow)

    sent = Counter(r["headers"]["webhook-id"] for r in receiver.requests)
    first = receiver.requests[-1]["headers"]["webhook-id"]  # the slow one finished last
    # The slow request itself overran its lease, so it may go twice (the receiver can
    # tell by its webhook-id); nothing else may.
    assert {event: count for event, count in sent.items() if event != first} == dict.fromkeys(
        set(sent) - {first}, 1
    )
    assert len(sent) == 4
    assert WebhookAttempt.objects.count() == sum(sent.values())


# --- An owner's edit racing the worker's judgement ----------------------------------------


@pytest.fixture
def endpoint(organization, receiver):
    return services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.created"]
    )


def test_an_owners_edit_keeps_the_failures_the_worker_counted_meanwhile(
    organization, endpoint, receiver
):
    seen_by_owner = WebhookEndpoint.objects.get(pk=endpoint.pk)  # the edit form loaded it
    receiver.statuses = [500]
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()  # meanwhile the worker records a failure
    services.endpoint_update(
        endpoint=seen_by_owner, events=["customer.created", "customer.updated"]
    )
    endpoint.refresh_from_db()
    assert endpoint.events == ["customer.created", "customer.updated"]
    assert endpoint.consecutive_failures == 1
    assert endpoint.failing_since is not None


def test_an_owners_edit_does_not_revive_failures_a_success_cleared(
    organization, endpoint, receiver, settings
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=50, failing_since=datetime.now(UTC) - timedelta(hours=80)
    )
    seen_by_owner = WebhookEndpoint.objects.get(pk=endpoint.pk)
    customer_services.customer_create(organization=organization, email="a@x.io")
    deliver_due()  # a success clears the judgement
    services.endpoint_update(endpoint=seen_by_owner, url=receiver.url + "?v=2")
    receiver.statuses = [500]
    customer_services.customer_create(organization=organization, email="b@x.io")
    deliver_due()  # one failure after a success must not disable it
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.consecutive_failures == 1


def test_an_owners_edit_does_not_undo_an_automatic_disabling(organization, endpoint):
    seen_by_owner = WebhookEndpoint.objects.get(pk=endpoint.pk)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(  # the worker, meanwhile
        enabled=False, disabled_automatically=True, disabled_reason="Disabled automatically."
    )
    services.endpoint_update(
        endpoint=seen_by_owner, events=["customer.created", "customer.deleted"]
    )
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.disabled_automatically) == (False, True)
    assert endpoint.disabled_reason == "Disabled automatically."


def test_an_owners_edit_does_not_undo_a_secret_rotated_meanwhile(organization, endpoint):
    seen_by_owner = WebhookEndpoint.objects.get(pk=endpoint.pk)
    rotated = services.endpoint_rotate_secret(
        endpoint=WebhookEndpoint.objects.get(pk=endpoint.pk)
    ).secret
    services.endpoint_update(endpoint=seen_by_owner, enabled=False)
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated


# --- Receivers that answer forever ----------------------------------------------------------


class EndlessReceiver:
    """Answers 200 at once, then writes `pieces` pieces of body (`pause` seconds apart)
    unless the worker hangs up first, and notes whether it did."""

    def __init__(self, piece: bytes, pieces: int, pause: float, content_type: str = ""):
        self.hung_up = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(200)
                self.send_header("content-length", str(len(piece) * pieces))
                if content_type:
                    self.send_header("content-type", content_type)
                self.end_headers()
                try:
                    for _ in range(pieces):
                        self.wfile.write(piece)
                        self.wfile.flush()
                        threading.Event().wait(pause)
                except OSError:
                    receiver.hung_up.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "piece, pieces, pause",
    [
        (b"x" * 65536, 1024, 0),  # 64 MB as fast as it goes: all of it held in memory
        (b"x", 400, 0.05),  # a trickle, each byte well within the read timeout
    ],
    ids=["huge", "trickle"],
)
def test_a_receiver_that_keeps_answering_cannot_hold_the_worker(
    organization, settings, piece, pieces, pause
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    endless = EndlessReceiver(piece, pieces, pause)
    try:
        services.endpoint_create(
            organization=organization, url=endless.url, events=["customer.created"]
        )
        customer_services.customer_create(organization=organization, email="a@x.io")
        deliver_due()
        assert endless.hung_up.wait(10), "the worker read the whole answer"
        attempt = WebhookAttempt.objects.get()
        assert attempt.succeeded  # the 200 came at once; only the body went on
        assert 0 < len(attempt.response_excerpt) <= EXCERPT_LENGTH
        assert set(attempt.response_excerpt) == {"x"}
    finally:
        endless.close()


def test_a_receiver_answering_nul_characters_is_recorded(organization):
    """PostgreSQL stores no NUL in text: an excerpt holding one failed the attempt's INSERT,
    so the worker crashed on every poll and the delivery was never recorded."""
    answer = EndlessReceiver(b"ok\x00\x00 done", 1, 0)
    try:
        services.endpoint_create(
            organization=organization, url=answer.url, events=["customer.created"]
        )
        customer_services.customer_create(organization=organization, email="a@x.io")
        deliver_due()
        attempt = WebhookAttempt.objects.get()
        assert attempt.succeeded
        assert attempt.response_excerpt == "ok\ufffd\ufffd done"
    finally:
        answer.close()


# --- An endpoint deleted while the worker sends to it --------------------------------------


class DeletesOnFirstSend:
    """An httpx client during whose first request the owner deletes that endpoint."""

    def __init__(self):
        self.client = httpx.Client(timeout=5)
        self.calls = 0

    def stream(self, method, url, **kwargs):
        self.calls += 1
        if self.calls == 1:
            services.endpoint_delete(endpoint=WebhookEndpoint.objects.get(url=url))
        return self.client.stream(method, url, **kwargs)


def test_an_endpoint_deleted_mid_send_does_not_stop_the_batch(organization, receiver):
    other = Receiver()
    try:
        for url in (receiver.url, other.url):
            services.endpoint_create(
                organization=organization, url=url, events=["customer.created"]
            )
        customer_services.customer_create(organization=organization, email="a@x.io")
        customer_services.customer_create(organization=organization, email="b@x.io")
        deliver_due(client=DeletesOnFirstSend())  # raised DoesNotExist: the worker died
        survivor = WebhookEndpoint.objects.get()
        assert survivor.deliveries.filter(status="succeeded").count() == 2
    finally:
        other.close()


# --- Retention: what counts as old ----------------------------------------------------------


def test_a_state_that_changed_within_retention_is_sent_on_re_enable(
    organization, receiver, settings
):
    """An event that waits is coalesced into: it keeps the time it was first written and
    carries the newest state. Expiring it by that first time dropped a change made
    yesterday, the customer's final state, because the customer first changed long ago."""
    settings.WEBHOOK_RETENTION_DAYS = 30
    endpoint = services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.state_changed"]
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_automatically=True
    )
    customer = customer_services.customer_create(organization=organization, email="a@x.io")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    WebhookEvent.objects.update(created_at=long_ago, modified_at=long_ago)
    customer_services.customer_update(customer=customer, name="Final name")  # coalesced
    assert WebhookEvent.objects.count() == 1

    services.endpoint_update(endpoint=endpoint, enabled=True)
    send_until_idle()
    assert [json.loads(r["body"])["data"]["name"] for r in receiver.requests] == ["Final name"]


def test_a_state_that_did_not_change_within_retention_still_expires(
    organization, receiver, settings
):
    settings.WEBHOOK_RETENTION_DAYS = 30
    endpoint = services.endpoint_create(
        organization=organization, url=receiver.url, events=["customer.state_changed"]
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_automatically=True
    )
    customer_services.customer_create(organization=organization, email="a@x.io")
    long_ago = datetime.now(UTC) - timedelta(days=40)
    WebhookEvent.objects.update(created_at=long_ago, modified_at=long_ago)
    services.endpoint_update(endpoint=endpoint, enabled=True)
    send_until_idle()
    assert receiver.requests == []
    assert WebhookEvent.objects.get().deliveries.get().status == "expired"


# --- A lease shorter than one attempt ---------------------------------------------------------


def test_a_lease_outlasts_one_attempt_whatever_the_timeout(organization, endpoint, settings):
    """With WEBHOOK_TIMEOUT_SECONDS above the 60 s lease, a live worker still waiting for a
    slow receiver lost its lease, and another worker sent the same delivery meanwhile."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 90
    customer_services.customer_create(organization=organization, email="a@x.io")
    now = datetime.now(UTC)
    (delivery,) = _claim(now, limit=50)
    # Connecting, sending and the answer's first byte may each take the whole timeout.
    assert delivery.locked_until >= now + timedelta(seconds=3 * 90)
    assert _claim(now + timedelta(seconds=3 * 90), limit=50) == []


# --- DNS rebinding ----------------------------------------------------------------------------


def test_a_name_that_rebinds_to_a_private_address_after_the_check_is_not_reached(
    organization, receiver, settings, monkeypatch
):
    """The URL was checked by resolving its name, then httpx resolved it again to connect:
    a name whose answers alternate (public, then loopback; TTL 0) passed the check and
    reached a service inside the network, whose answer the delivery log then showed."""
    import socket

    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    answers = {"calls": 0}

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        answers["calls"] += 1
        address = "93.184.216.34" if answers["calls"] % 2 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    services.endpoint_create(
        organization=organization,
        url=f"http://rebind.example:{port}/hooks",
        events=["customer.created"],
    )
    customer_services.customer_create(organization=organization, email="a@x.io")
    answers["calls"] = 0  # the check before sending gets the public answer
    deliver_due()
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert not attempt.succeeded
    assert "private, loopback or link-local" in attempt.error


@pytest.mark.parametrize("charset", ["rot13", "base64", "idna", "no-such-charset"])
def test_a_receiver_naming_a_charset_that_decodes_no_text_is_recorded(organization, charset):
    """`charset=rot13` names a codec that is no text encoding (LookupError), `idna` one
    that takes no error handler (UnicodeError): the worker raised on every poll."""
    answer = EndlessReceiver(b"ok \xff", 1, 0, content_type=f"text/plain; charset={charset}")
    try:
        services.endpoint_create(
            organization=organization, url=answer.url, events=["customer.created"]
        )
        customer_services.customer_create(organization=organization, email="a@x.io")
        deliver_due()
        attempt = WebhookAttempt.objects.get()
        assert attempt.succeeded
        assert attempt.response_excerpt.startswith("ok ")
    finally:
        answer.close()

"""Reads from the streaming replica, read-your-writes, and a replica that lags or goes
away: the router (core/replicas.py) against real servers. A paused replay makes the
replica's staleness visible: what a client reads then says where it read it."""

import json
import time
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core import replicas
from customers.models import Customer
from organizations.services import access_token_create
from tests.cluster.conftest import (
    Web,
    commit_on_primary,
    replay_paused,
    start_replica,
    stop_replica,
    wait_replayed,
)
from tests.conftest import ALL_SCOPES
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    OrderFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def merchant():
    organization = OrganizationFactory(name="Acme", slug="acme")
    owner = MembershipFactory(organization=organization, role="owner").user
    member = MembershipFactory(organization=organization, role="member").user
    tokens = [
        access_token_create(organization=organization, name=name, scopes=ALL_SCOPES)[1]
        for name in ("writer", "reader")
    ]
    customer = CustomerFactory(organization=organization, name="Before")
    return SimpleNamespace(
        organization=organization,
        owner=owner,
        member=member,
        writer_token=tokens[0],
        reader_token=tokens[1],
        customer=customer,
    )


def _api(token: str) -> Client:
    client = Client(headers={"Authorization": f"Bearer {token}"})
    # A token's first use records last_used_at (bookkeeping, never sticky): done here so
    # the calls below are only what they say.
    assert client.get("/v1/customers/", {"limit": 1}).status_code == 200
    return client


def _name(client: Client, customer) -> str:
    response = client.get(f"/v1/customers/{customer.pk}")
    assert response.status_code == 200, response.content
    return json.loads(response.content)["name"]


def _rename(customer, name: str) -> None:
    Customer.objects.filter(pk=customer.pk).update(name=name)


def test_api_reads_come_from_the_replica_and_a_writer_reads_its_own_writes(merchant):
    customer = merchant.customer
    writer_token = merchant.writer_token
    reader_token = merchant.reader_token
    writer, reader = _api(writer_token), _api(reader_token)
    wait_replayed()
    with replay_paused():
        response = writer.patch(
            f"/v1/customers/{customer.pk}",
            json.dumps({"name": "After"}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        # The writer reads from the primary for REPLICA_STICKY_SECONDS ...
        assert _name(writer, customer) == "After"
        # ... another token reads the replica, which has not applied the write yet.
        assert _name(reader, customer) == "Before"
        listed = json.loads(reader.get("/v1/customers/", {"limit": 10}).content)
        assert [c["name"] for c in listed["items"]] == ["Before"]
    wait_replayed()
    assert _name(reader, customer) == "After"


def test_after_the_sticky_time_the_writer_reads_the_replica_again(merchant, settings):
    settings.REPLICA_STICKY_SECONDS = 1
    customer = merchant.customer
    writer_token = merchant.writer_token
    writer = _api(writer_token)
    wait_replayed()
    with replay_paused():
        writer.patch(
            f"/v1/customers/{customer.pk}",
            json.dumps({"name": "After"}),
            content_type="application/json",
        )
        assert _name(writer, customer) == "After"
        time.sleep(2.2)  # the sticky mark is gone; the replica is 2 s behind (< 5 s)
        commit_on_primary()
        assert _name(writer, customer) == "Before"


def test_a_merchant_who_saves_a_metadata_key_sees_it_on_the_next_page(merchant):
    organization, owner, member = merchant.organization, merchant.owner, merchant.member
    customer = merchant.customer
    saver, colleague = Client(), Client()
    saver.force_login(owner)
    colleague.force_login(member)
    page = reverse("customers:detail", args=[organization.slug, customer.pk])
    assert saver.get(page).status_code == 200 and colleague.get(page).status_code == 200
    wait_replayed()
    with replay_paused():
        response = saver.post(
            reverse("customers:metadata", args=[organization.slug, customer.pk]),
            {"key": "plan", "value": "enterprise-tier", "type": "string"},
        )
        assert response.status_code in (200, 302), response.content[:500]
        assert b"enterprise-tier" in saver.get(page).content
        # The colleague's session did not write: the replica's page, without the key yet.
        assert b"enterprise-tier" not in colleague.get(page).content
    wait_replayed()
    assert b"enterprise-tier" in colleague.get(page).content


def test_a_replica_behind_more_than_the_limit_is_skipped_until_it_catches_up(
    merchant, settings, client
):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    customer = merchant.customer
    reader_token = merchant.reader_token
    reader = _api(reader_token)
    wait_replayed()
    with replay_paused():
        _rename(customer, "After")
        assert _name(reader, customer) == "Before"  # behind, but by less than a second
        time.sleep(1.5)
        # Now more than a second behind: the primary answers.
        assert _name(reader, customer) == "After"
        health = json.loads(client.get("/healthz").content)["replicas"]["replica_1"]
        assert health["usable"] is False and "behind" in health["reason"]
    wait_replayed()
    health = json.loads(client.get("/healthz").content)["replicas"]["replica_1"]
    assert health == {"usable": True, "lag_seconds": 0.0, "reason": "ok"}


def test_a_replica_that_is_down_is_skipped_and_used_again_when_it_returns(
    merchant, settings, client
):
    customer = merchant.customer
    reader_token = merchant.reader_token
    reader = _api(reader_token)
    stop_replica()
    try:
        _rename(customer, "While down")
        assert _name(reader, customer) == "While down"
        health = json.loads(client.get("/healthz").content)["replicas"]["replica_1"]
        assert health["usable"] is False and health["reason"].startswith("unreachable")
    finally:
        start_replica()
    wait_replayed()
    with replay_paused():
        _rename(customer, "Back")
        assert _name(reader, customer) == "While down"  # the replica serves again


def test_a_replica_failing_mid_request_costs_a_retry_on_the_primary(merchant, settings):
    customer = merchant.customer
    reader_token = merchant.reader_token
    reader = _api(reader_token)
    wait_replayed()  # the customer is there: the read below is the replica's answer
    assert _name(reader, customer) == "Before"  # connected to the replica, found healthy
    settings.REPLICA_CHECK_SECONDS = 3600  # so the next request trusts that reading
    stop_replica()
    try:
        _rename(customer, "Retried")
        assert _name(reader, customer) == "Retried"
        assert not replicas.health("replica_1").usable
    finally:
        start_replica()


def test_writes_and_transactions_never_touch_the_replica(merchant):
    """Every statement the replica ran during a write request: none of the app's."""
    customer = merchant.customer
    writer_token = merchant.writer_token
    writer = _api(writer_token)
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((context["connection"].alias, sql.split()[0]))
        return execute(sql, params, many, context)

    from django.db import connections

    with (
        connections["replica_1"].execute_wrapper(record),
        connections["default"].execute_wrapper(record),
    ):
        response = writer.patch(
            f"/v1/customers/{customer.pk}",
            json.dumps({"metadata": {"plan": "pro"}}),
            content_type="application/json",
        )
        assert response.status_code == 200
    assert seen and all(alias == "default" for alias, _ in seen), seen


def test_a_web_process_serves_reads_from_the_replica(merchant, tmp_path, processes):
    """The same, through gunicorn with the cluster's environment: its /healthz sees the
    replica, and a paused replay shows in what an API call reads."""
    customer = merchant.customer
    reader_token = merchant.reader_token
    web = Web(tmp_path, "web")
    processes.append(web)
    headers = {"Authorization": f"Bearer {reader_token}"}
    url = f"{web.url}/v1/customers/{customer.pk}"
    assert httpx.get(url, headers=headers).json()["name"] == "Before"
    assert httpx.get(f"{web.url}/healthz").json()["replicas"]["replica_1"]["usable"]
    with replay_paused():
        _rename(customer, "After")
        assert httpx.get(url, headers=headers).json()["name"] == "Before"
    wait_replayed()
    assert httpx.get(url, headers=headers).json()["name"] == "After"


def test_an_export_streams_from_the_replica(merchant):
    """The CSV export is streamed after the view returns: it still reads the replica."""
    organization, member = merchant.organization, merchant.member
    client = Client()
    client.force_login(member)
    wait_replayed()
    with replay_paused():
        _rename(merchant.customer, "After")
        response = client.get(reverse("customers:export", args=[organization.slug]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
    assert b"Before" in body and b"After" not in body


def _orders_counted(client: Client, **params) -> int:
    today = timezone.now().date()
    response = client.get(
        "/v1/metrics/",
        {"start_date": str(today - timedelta(days=6)), "end_date": str(today),
         "interval": "day", "metrics": "orders", **params},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return json.loads(response.content)["totals"]["orders"]


def test_metrics_read_the_replica_both_kept_and_summed(merchant):
    """The metrics' own SQL (analytics/compute.py) reads where the ORM would: the kept
    daily figures for the organization, the tables for one customer."""
    reader = _api(merchant.reader_token)
    customer = merchant.customer
    wait_replayed()
    with replay_paused():
        OrderFactory(customer=customer)
        assert _orders_counted(reader) == 0
        assert _orders_counted(reader, customer_id=str(customer.pk)) == 0
    wait_replayed()
    assert _orders_counted(reader) == 1
    assert _orders_counted(reader, customer_id=str(customer.pk)) == 1

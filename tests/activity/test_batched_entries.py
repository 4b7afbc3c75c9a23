"""A batch of changes (core.changes.record_many) writes the timeline entries recording them
one by one would, all in one INSERT however many changes; and the deliveries' entries in
at most three statements."""

import pytest
from django.db import transaction

from activity.models import Entry
from activity.services import SCRUBBED
from core.changes import Change, acting, diff, record, record_many
from tests.factories import CustomerFactory
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def customer_changes(organization, count: int) -> list[Change]:
    """Created and updated by turns; every other update sets the external ID (which adds
    an `external_id.set` entry beside it)."""
    changes = []
    for i in range(count):
        customer = CustomerFactory(organization=organization)
        if i % 2:
            type = "customer.updated"
            before = {"name": customer.name, "external_id": None}
            after = {"name": f"{customer.name} (imported)", "external_id": None}
            if i % 4 == 1:
                after["external_id"] = f"usr_{i}"
        else:
            type, before, after = "customer.created", {}, {"email": customer.email}
        changes.append(
            Change(
                type=type,
                organization_id=organization.pk,
                customer_id=customer.pk,
                subject=customer,
                changes=diff(before, after),
            )
        )
    return changes


def entries() -> list[tuple]:
    return [
        (e.customer_id, e.type, e.changes, e.actor_type, e.actor_name, e.source, e.subject_id)
        for e in Entry.objects.order_by("pk")
    ]


def one_by_one(changes: list[Change]) -> list[tuple]:
    with transaction.atomic():
        for change in changes:
            record(change)
        result = entries()
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("count", [4, 50])
def test_a_batch_writes_the_entries_recording_one_by_one_would_in_one_insert(
    organization, count, django_assert_num_queries
):
    with acting(source="import"):
        changes = customer_changes(organization, count)
    expected = one_by_one(changes)
    assert not Entry.objects.exists()

    with django_assert_num_queries(2):
        # 1. INSERT every entry of every change
        # 2. SELECT the organization's webhook endpoints (none: nothing more is written)
        record_many(changes)

    assert entries() == expected
    types = [e[1] for e in expected]
    assert types.count("external_id.set") == len(range(1, count, 4))
    assert len(expected) == count + types.count("external_id.set")
    assert {e[5] for e in expected} == {"import"}


def test_without_webhooks_a_batch_is_one_statement(organization, django_assert_num_queries):
    with acting(webhooks=False):
        changes = customer_changes(organization, 20)
    with django_assert_num_queries(1):  # the entries' INSERT
        record_many(changes)
    assert Entry.objects.count() == 20 + 5


def test_an_anonymization_in_a_batch_scrubs_the_entries_before_it(organization):
    customer = CustomerFactory(organization=organization, email="ada@example.com")
    changes = [
        Change(
            type="customer.updated",
            organization_id=organization.pk,
            customer_id=customer.pk,
            subject=customer,
            changes={"email": ["ada@example.com", "ada@lovelace.io"]},
        ),
        Change(
            type="customer.anonymized",
            organization_id=organization.pk,
            customer_id=customer.pk,
            subject=customer,
        ),
    ]
    expected = one_by_one(changes)
    record_many(changes)
    assert entries() == expected
    assert expected[0][2] == {"email": [SCRUBBED, SCRUBBED]}


def test_a_rolled_back_batch_leaves_no_entry(organization):
    changes = customer_changes(organization, 10)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_many(changes)
        assert Entry.objects.exists()
        raise RuntimeError("the import failed")
    assert not Entry.objects.exists()


def delivery_changes(deliveries, status: str, attempts: int) -> list[Change]:
    """As the worker reports its attempts (webhooks.worker._report)."""
    return [
        Change(
            type="webhook.delivery",
            organization_id=d.event.organization_id,
            customer_id=d.event.customer_id,
            subject=d,
            changes={"event": [None, d.event.type], "status": ["pending", status]}
            | {"attempts": [0, attempts]},
        )
        for d in deliveries
    ]


def test_deliveries_in_a_batch_write_then_update_their_entries(
    organization, django_assert_num_queries
):
    WebhookEndpoint.objects.create(
        organization=organization,
        url="https://hooks.example.com/in",  # never sent to: no worker runs
        events=[EventType.CUSTOMER_CREATED],
    )
    record_many(customer_changes(organization, 6))
    deliveries = list(WebhookDelivery.objects.select_related("event").order_by("pk"))
    assert len(deliveries) == 3
    Entry.objects.all().delete()

    with django_assert_num_queries(2):  # the deliveries' entries (none yet); the INSERT
        record_many(delivery_changes(deliveries[:2], "pending", 1))
    with django_assert_num_queries(3):  # the deliveries' entries; the UPDATE; the new one
        record_many(delivery_changes(deliveries, "pending", 2))
    with django_assert_num_queries(2):  # the deliveries' entries; their UPDATE
        record_many(delivery_changes(deliveries, "failed", 3))

    rows = Entry.objects.filter(type="webhook.delivery").order_by("pk")
    assert [(e.subject_id, e.changes["status"][1], e.changes["attempts"][1]) for e in rows] == [
        (d.pk, "failed", 3) for d in deliveries
    ]

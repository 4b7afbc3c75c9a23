"""A batch of changes (core.changes.record_many, as an import records its rows) sends the
events and deliveries recording them one by one would, in a number of statements that does
not grow with the batch; within `acting(webhooks=False)` it sends none."""

import pytest
from django.db import transaction

from activity.models import Entry
from core.changes import Change, acting, diff, record, record_many
from customers.schemas import customer_event
from orders.models import Subscription
from tests.factories import CustomerFactory, SubscriptionFactory
from webhooks import services
from webhooks.models import EventType, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoints(organization, receiver):
    return [
        services.endpoint_create(
            organization=organization, url=receiver.url, events=list(EventType.values)
        ),
        # Wants only some of what a batch sends: its deliveries are those events' only.
        services.endpoint_create(
            organization=organization,
            url=receiver.url + "/created",
            events=[EventType.CUSTOMER_CREATED, EventType.CUSTOMER_STATE_CHANGED],
        ),
    ]


def customer_changes(organization, count: int) -> list[Change]:
    """`count` changes as customers.services reports them: created and updated by turns,
    every third customer with an active subscription in its state."""
    changes = []
    for i in range(count):
        customer = CustomerFactory(organization=organization, metadata={"row": i})
        if i % 3 == 0:
            SubscriptionFactory(customer=customer)
        if i % 2:
            type, before = "customer.updated", {"name": customer.name}
            customer.name = f"{customer.name} (imported)"
            customer.save()
            after = {"name": customer.name}
        else:
            type, before = "customer.created", {}
            after = {"email": customer.email, "name": customer.name, "metadata": customer.metadata}
        changes.append(
            Change(
                type=type,
                organization_id=organization.pk,
                customer_id=customer.pk,
                subject=customer,
                changes=diff(before, after),
                event_data=lambda customer=customer: customer_event(customer),
            )
        )
    return changes


def written() -> dict:
    """What the changes left, in the order it was written (IDs are time-ordered), without
    the moments of writing."""
    return {
        "entries": [
            (e.customer_id, e.type, e.changes, e.source, e.actor_type)
            for e in Entry.objects.order_by("pk")
        ],
        "events": [
            (e.customer_id, e.type, e.coalesce_key, e.payload["type"], e.document()["data"])
            for e in WebhookEvent.objects.select_related("person").order_by("pk")
        ],
        "deliveries": [
            (d.event.customer_id, d.event.type, d.endpoint_id, d.status)
            for d in WebhookDelivery.objects.select_related("event").order_by("pk")
        ],
    }


def one_by_one(changes: list[Change]) -> dict:
    """What recording the changes one at a time writes (then rolled back)."""
    with transaction.atomic():
        for change in changes:
            record(change)
        result = written()
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("count", [4, 50])
def test_a_batch_writes_what_recording_one_by_one_would_in_six_statements(
    organization, endpoints, count, django_assert_num_queries
):
    changes = customer_changes(organization, count)
    expected = one_by_one(changes)
    assert not WebhookEvent.objects.exists()

    with transaction.atomic(), django_assert_num_queries(6):
        # 1. INSERT the timeline entries (activity.services.entry_record)
        # 2. SELECT the organization's endpoints (webhooks.events.listeners: the test's
        #    organization was not read from the database, so it is not cached)
        # 3. SELECT the customers' active subscriptions, for their state payloads
        # 4. INSERT the events' personal values, one row per customer (webhooks.personal)
        # 5. INSERT the events
        # 6. INSERT the deliveries
        record_many(changes)

    assert written() == expected
    events = expected["events"]
    # Per change its own event and then the customer's state, every one of them.
    assert len(events) == 2 * count
    assert [e[1] for e in events[:2]] == ["customer.created", "customer.state_changed"]
    assert {e[0] for e in events} == {c.customer_id for c in changes}
    # The state payload lists the customer's active subscription, as the single path does.
    state = next(e for e in events if e[1] == "customer.state_changed")
    assert len(state[4]["active_subscriptions"]) == 1
    # The second endpoint gets only the created and state events.
    second = [d[1] for d in expected["deliveries"] if d[2] == endpoints[1].pk]
    assert set(second) == {"customer.created", "customer.state_changed"}


def test_a_batch_payload_has_the_single_paths_shape(organization, endpoints):
    changes = customer_changes(organization, 3)
    with transaction.atomic():
        record(changes[0])
        single = list(WebhookEvent.objects.order_by("pk"))
        transaction.set_rollback(True)
    record_many(changes)
    batched = list(WebhookEvent.objects.filter(customer_id=changes[0].customer_id).order_by("pk"))
    assert [e.payload.keys() for e in batched] == [e.payload.keys() for e in single]
    assert [e.payload["api_version"] for e in batched] == [e.payload["api_version"] for e in single]
    assert [e.payload["data"] for e in batched] == [e.payload["data"] for e in single]
    # Stored apart: the payload holds none of the customer's values, the document all.
    assert {e.payload["data"]["email"] for e in batched} == {None}
    assert {e.document()["data"]["email"] for e in batched} == {changes[0].subject.email}
    assert [e.document()["data"] for e in batched] == [e.document()["data"] for e in single]
    # The created event and the state share the customer's values: one row for both.
    assert len({e.person_id for e in batched}) == 1


def test_a_batch_nobody_listens_to_writes_no_event(
    organization, receiver, django_assert_num_queries
):
    services.endpoint_create(organization=organization, url=receiver.url, events=["order.paid"])
    changes = customer_changes(organization, 10)
    with django_assert_num_queries(2):  # the entries' INSERT; the endpoints
        record_many(changes)
    assert Entry.objects.count() == 10
    assert not WebhookEvent.objects.exists()


def test_a_batch_acting_without_webhooks_writes_entries_and_no_event(organization, endpoints):
    with acting(webhooks=False):
        record_many(customer_changes(organization, 10))
        record(customer_changes(organization, 1)[0])  # the single path too
    assert Entry.objects.count() == 11
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_webhooks_follow_each_change_acting_not_the_batch(organization, endpoints):
    with acting(webhooks=False):
        quiet = customer_changes(organization, 2)
    loud = customer_changes(organization, 2)
    record_many([*quiet, *loud])
    assert Entry.objects.count() == 4
    assert {e.customer_id for e in WebhookEvent.objects.all()} == {c.customer_id for c in loud}


def test_a_rolled_back_batch_leaves_nothing(organization, endpoints):
    changes = customer_changes(organization, 20)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_many(changes)
        assert WebhookEvent.objects.exists()
        raise RuntimeError("the import failed")
    assert not Entry.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_batch_of_subscription_changes_loads_their_customers_in_one_query(
    organization, endpoints, django_assert_num_queries
):
    ids = [SubscriptionFactory(customer__organization=organization).pk for _ in range(5)]

    def renewals():
        return [
            Change(
                type="subscription.renewed",
                organization_id=organization.pk,
                customer_id=subscription.customer_id,
                subject=subscription,  # read without its customer
                event_data=lambda subscription=subscription: {"id": str(subscription.pk)},
            )
            for subscription in Subscription.objects.filter(pk__in=ids).order_by("pk")
        ]

    expected = one_by_one(renewals())
    changes = renewals()
    with django_assert_num_queries(7):
        # the entries; the endpoints (not cached); the customers; their subscriptions;
        # the states' personal values; the events; the deliveries
        record_many(changes)
    assert written() == expected
    assert [e[1] for e in expected["events"][:2]] == [
        "subscription.updated",
        "customer.state_changed",
    ]

"""Webhook payloads keep their personal values apart (webhooks.personal, EventPerson): the
body sent, listed and exported is the same as before, and an erasure rewrites a few rows
instead of every event."""

import json
import uuid

import pytest

from checkouts import services as checkouts
from customers import privacy
from customers import services as customer_services
from tests.factories import ProductFactory
from webhooks import personal, services
from webhooks.models import EventPerson, EventType, WebhookEvent
from webhooks.worker import deliver_due

pytestmark = pytest.mark.django_db


def send_until_idle():
    while deliver_due():
        pass


@pytest.fixture
def endpoint(organization, receiver):
    return services.endpoint_create(
        organization=organization, url=receiver.url, events=list(EventType.values)
    )


ORDER = {
    "id": "o1",
    "amount": 1500,
    "billing_name": "Ada L.",
    "billing_address": {"country": "GB", "city": "London"},
    "customer": {
        "id": "c1",
        "email": "ada@example.com",
        "external_id": "usr_1",
        "name": "Ada",
        "metadata": {"plan": "pro"},
        "billing_address": None,
    },
    "product": {"id": "p1", "name": "Pro"},
}


def test_split_then_document_gives_back_the_same_json_key_for_key_in_order():
    owner = uuid.uuid4()
    stored, person = personal.split("order.paid", ORDER, owner)
    assert stored["customer"]["email"] is None and stored["billing_name"] is None
    assert stored["customer"]["external_id"] == "usr_1"  # the merchant's ID stays
    assert stored["product"] is ORDER["product"]  # untouched parts are shared, not copied
    assert ORDER["customer"]["email"] == "ada@example.com"  # the input is not changed
    assert person.owner_id == owner
    assert person.values["customer.email"] == "ada@example.com"
    assert "customer.tax_id" not in person.values  # only the paths the payload has
    payload = {"type": "order.paid", "data": stored}
    whole = personal.document(payload, person.values)
    assert json.dumps(whole) == json.dumps({"type": "order.paid", "data": ORDER})


@pytest.mark.parametrize(
    ("type", "data", "kept"),
    [
        ("customer.updated", {"id": "c", "email": "a@x.io", "name": None}, {"email", "name"}),
        (
            "subscription.canceled",
            {"id": "s", "customer": {"email": "a@x.io"}, "customer_cancellation_comment": "no"},
            {"customer.email", "customer_cancellation_comment"},
        ),
        (
            "checkout.created",
            {"id": str(uuid.uuid4()), "customer_email": "a@x.io", "customer_metadata": {}},
            {"customer_email", "customer_metadata"},
        ),
    ],
)
def test_each_kind_keeps_its_personal_paths(type, data, kept):
    customer_id = None if type.startswith("checkout.") else uuid.uuid4()
    stored, person = personal.split(type, data, customer_id)
    assert set(person.values) == kept
    assert all(stored[k.split(".")[0]] is None for k in kept if "." not in k)
    assert personal.document({"data": stored}, person.values) == {"data": data}
    if customer_id is None:  # a checkout's event before it had a customer: the checkout's
        assert person.owner_id == uuid.UUID(data["id"])


def test_no_path_goes_deeper_than_one_object_within_data():
    assert {len(path) for paths in personal.PATHS.values() for path in paths} <= {1, 2}


def test_an_event_without_owner_or_personal_paths_is_stored_whole():
    data = {"id": "not-a-uuid", "customer_email": "a@x.io"}
    assert personal.split("checkout.created", data, None) == (data, None)
    assert personal.split("order.paid", {"id": "o"}, uuid.uuid4()) == ({"id": "o"}, None)
    assert personal.split("webhook.test", {"email": "a@x.io"}, uuid.uuid4())[1] is None


def test_the_same_values_of_the_same_owner_share_one_row():
    owner, other = uuid.uuid4(), uuid.uuid4()
    first = personal.split("order.paid", ORDER, owner)[1]
    again = personal.split("order.created", {**ORDER, "id": "o2", "amount": 1}, owner)[1]
    assert first.id == again.id
    assert personal.split("order.paid", ORDER, other)[1].id != first.id
    changed = {**ORDER, "customer": {**ORDER["customer"], "name": "Ada B."}}
    assert personal.split("order.paid", changed, owner)[1].id != first.id


def test_a_customers_events_store_no_personal_value_and_send_them_all(
    organization, endpoint, receiver
):
    customer = customer_services.customer_create(
        organization=organization, email="ada@example.com", name="Ada", metadata={"plan": "pro"}
    )
    customer = customer_services.customer_update(customer=customer, name="Ada Lovelace")
    send_until_idle()
    events = list(WebhookEvent.objects.filter(customer_id=customer.pk).select_related("person"))
    assert events and all(e.person_id for e in events)
    for event in events:
        assert "ada@example.com" not in json.dumps(event.payload)
        assert "Lovelace" not in json.dumps(event.payload)
    # created + its state share one row, the update + its state another.
    assert EventPerson.objects.filter(owner_id=customer.pk).count() == 2
    sent = {r["headers"]["webhook-id"]: json.loads(r["body"]) for r in receiver.requests}
    for event in events:
        assert sent[str(event.pk)] == event.document()
    updated = next(e for e in events if e.type == "customer.updated")
    assert sent[str(updated.pk)]["data"]["name"] == "Ada Lovelace"
    assert sent[str(updated.pk)]["data"]["metadata"] == {"plan": "pro"}


def test_an_erasure_rewrites_the_people_not_the_events(organization, endpoint):
    customer = customer_services.customer_create(
        organization=organization, email="ada@example.com", name="Ada"
    )
    product = ProductFactory(organization=organization, price_amount=1500)
    checkout = checkouts.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    checkouts.checkout_confirm(checkout=checkout, payment_token="tok_test_success")
    events = WebhookEvent.objects.filter(customer_id=customer.pk).select_related("person")
    assert {"order.created", "order.paid"} <= {e.type for e in events}
    stored = {e.pk: e.payload for e in events}

    privacy.customer_erase(customer=customer)

    placeholder = f"erased-{customer.pk}@erased.invalid"
    # (An unclaimed state event takes the erased state in place: it is a new write.)
    for event in events.filter(pk__in=list(stored), coalesce_key=""):
        assert event.payload == stored[event.pk]  # the payload itself is not rewritten
        data = event.document()["data"]
        if event.type.startswith("checkout."):
            assert data["customer_email"] == placeholder and data["customer_name"] is None
            continue
        profile = data if event.type.startswith("customer.") else data["customer"]
        assert profile["email"] == placeholder, event.type
        assert profile["name"] is None
    for person in EventPerson.objects.filter(owner_id=customer.pk):
        assert "ada@example.com" not in json.dumps(person.values)


def test_the_export_holds_each_payload_as_it_was_sent(organization, endpoint, receiver):
    customer = customer_services.customer_create(
        organization=organization, email="ada@example.com", name="Ada"
    )
    send_until_idle()
    document = json.loads("".join(privacy.customer_export_pieces(customer=customer)))
    sent = {r["headers"]["webhook-id"]: json.loads(r["body"]) for r in receiver.requests}
    exported = {e["id"]: e["payload"] for e in document["webhook_events"]}
    assert exported == sent
    assert exported and all(p["data"]["email"] == "ada@example.com" for p in exported.values())


def test_an_erasure_leaves_another_organizations_values_alone(
    organization, other_organization, endpoint, receiver
):
    services.endpoint_create(
        organization=other_organization, url=receiver.url, events=list(EventType.values)
    )
    ours = customer_services.customer_create(organization=organization, email="ada@example.com")
    theirs = customer_services.customer_create(
        organization=other_organization, email="ada@example.com"
    )
    before = list(EventPerson.objects.filter(owner_id=theirs.pk).values_list("id", "values"))
    assert before

    privacy.customer_erase(customer=ours)

    assert list(EventPerson.objects.filter(owner_id=theirs.pk).values_list("id", "values")) == (
        before
    )
    event = WebhookEvent.objects.filter(customer_id=theirs.pk).select_related("person").first()
    assert event.document()["data"]["email"] == "ada@example.com"

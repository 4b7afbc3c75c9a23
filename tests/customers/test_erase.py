"""Erasing a customer (customers.privacy.customer_erase): afterwards no personal value of
theirs is anywhere in the database, every text and JSON column of every table searched;
the financial records stay; the erasure is audited, sent as `customer.deleted`, and all or
nothing."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from activity.models import Entry, Note
from activity.services import note_add
from checkouts import services as checkouts
from core import erasure
from core.erasure import ERASED
from core.models import IdempotencyKey, OutgoingEmail
from customers import privacy, services
from customers.models import Customer
from orders.models import Order, Subscription
from orders.services import subscription_cancel
from portal.models import CustomerSession, PortalSignInCode
from portal.services import customer_session_create
from portal.signin import sign_in_code_request
from tests.factories import ProductFactory
from webhooks.models import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db

EMAIL = "Zelda.Quuxington7@Example.org"
PERSONAL = {
    "email": EMAIL,
    "name": "Zelda Quuxington",
    "billing_name": "Quuxington Holdings",
    "line1": "17 Xylophone Alley",
    "line2": "Flat Zyx 4",
    "postal_code": "QX-99173",
    "city": "Quuxville",
    "state": "Quuxshire",
    "tax_id": "QX998877665",
    "locale": "qq-ZQ",
    "metadata": "favourite-quux-flavour",
    "old_name": "Zelda Prequux",
    "note": "Prefers calls about quuxes on Tuesdays",
    "comment": "Too many quuxes this month",
    "merged_email": "zelda.oldquux@example.org",
    "merged_name": "Zelda Oldquux",
    "merged_metadata": "merged-quux-secret",
    "merged_note": "The old quux account",
}


def all_text_values():
    """(table, column, value) for every text-like value of every table, lowercased."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table.startswith("sqlite_"):
                continue
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, memoryview | bytes):
                        value = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        value = json.dumps(value, ensure_ascii=False)
                    elif not isinstance(value, str):
                        continue
                    yield table, column, value.lower()


def found_anywhere(values):
    needles = [v.lower() for v in values]
    return sorted({(t, c, n) for t, c, text in all_text_values() for n in needles if n in text})


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=list(EventType.values)
    )


@pytest.fixture
def zelda(organization, owner, api, endpoint):
    """A customer with a value in every place the app keeps one: created through the API
    with an Idempotency-Key, edited, noted, bought through a checkout (subscription and
    orders), cancelled with a comment, signed in to the portal, a customer merged into it,
    and a webhook receiver that echoed a payload."""
    body = {
        "email": EMAIL,
        "name": PERSONAL["old_name"],
        "external_id": "usr_zelda",
        "billing_address": {
            "line1": PERSONAL["line1"],
            "line2": PERSONAL["line2"],
            "postal_code": PERSONAL["postal_code"],
            "city": PERSONAL["city"],
            "state": PERSONAL["state"],
            "country": "FR",
        },
        "tax_id": PERSONAL["tax_id"],
        "metadata": {"flavour": PERSONAL["metadata"]},
    }
    response = api.post(
        "/v1/customers/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": "create-zelda"},
    )
    assert response.status_code == 201, response.content
    customer = Customer.objects.get(pk=response.json()["id"])
    customer = services.customer_update(
        customer=customer,
        name=PERSONAL["name"],
        billing_name=PERSONAL["billing_name"],
        locale=PERSONAL["locale"],
    )
    note_add(customer=customer, body=PERSONAL["note"])

    product = ProductFactory(organization=organization, price_amount=1500)
    checkout = checkouts.checkout_create(
        organization=organization,
        product=product,
        customer_email=EMAIL.lower(),
        customer_name=PERSONAL["name"],
        customer_billing_name=PERSONAL["billing_name"],
        customer_tax_id=PERSONAL["tax_id"],
        customer_metadata={"flavour": PERSONAL["metadata"]},
    )
    checkouts.checkout_confirm(checkout=checkout, payment_token="tok_test_success")
    subscription = Subscription.objects.get(customer=customer)
    subscription_cancel(subscription=subscription, reason="other", comment=PERSONAL["comment"])

    customer_session_create(customer=customer)
    sign_in_code_request(organization=organization, email=EMAIL, address="203.0.113.9")

    merged = services.customer_create(
        organization=organization,
        email=PERSONAL["merged_email"],
        name=PERSONAL["merged_name"],
        metadata={"secret": PERSONAL["merged_metadata"]},
    )
    note_add(customer=merged, body=PERSONAL["merged_note"])
    Customer.objects.filter(pk=merged.pk).update(merged_into=customer, deleted_at=timezone.now())

    # Events written before personal values were kept apart (webhooks.personal) hold them
    # in their payloads: one of each kind, as such an event was.
    for event in WebhookEvent.objects.filter(customer_id=customer.pk).select_related("person"):
        if event.type in ("customer.created", "order.paid", "subscription.canceled"):
            WebhookEvent.objects.create(
                organization=organization,
                type=event.type,
                customer_id=customer.pk,
                payload=event.document(),
                created_at=event.created_at,
            )
    delivery = WebhookDelivery.objects.filter(event__customer_id=customer.pk).first()
    WebhookAttempt.objects.create(
        delivery=delivery,
        succeeded=True,
        status_code=200,
        duration_ms=12,
        response_excerpt=f"echo: {delivery.event.document()}",
    )
    customer.refresh_from_db()
    return customer


def test_the_fixture_puts_every_value_somewhere(zelda):
    # Else the test below would prove nothing.
    found = found_anywhere(PERSONAL.values())
    assert {n for _, _, n in found} == {v.lower() for v in PERSONAL.values()}
    tables = {t for t, _, n in found if n == EMAIL.lower()}
    assert {"customers_customer", "webhooks_webhookevent", "webhooks_webhookattempt"} <= tables
    assert "webhooks_eventperson" in tables
    assert {"checkouts_checkout", "core_idempotencykey", "core_outgoingemail"} <= tables
    assert {"activity_entry", "portal_portalsignincode"} <= tables


def test_an_erase_leaves_no_personal_value_anywhere_in_the_database(zelda, owner):
    privacy.customer_erase(customer=zelda, erased_by=owner)

    assert found_anywhere(PERSONAL.values()) == []


def test_an_erase_keeps_the_financial_records_and_records_who_and_when(zelda, owner):
    orders_before = list(
        Order.objects.filter(customer=zelda).values("id", "total_amount", "currency", "created_at")
    )
    erased = privacy.customer_erase(customer=zelda, erased_by=owner)

    erased.refresh_from_db()
    assert erased.email == f"erased-{zelda.pk}@erased.invalid"
    assert (erased.name, erased.billing_name, erased.tax_id, erased.locale) == ("", "", "", "")
    assert erased.billing_address_country == "FR"
    assert erased.billing_address_line1 == ""
    assert erased.external_id is None
    assert erased.metadata == {"__external_id": "usr_zelda"}
    assert erased.deleted_at is not None and erased.erased_at is not None
    assert erased.erased_by == owner
    assert orders_before and orders_before == list(
        Order.objects.filter(customer=zelda).values("id", "total_amount", "currency", "created_at")
    )
    assert not Note.objects.filter(customer=zelda).exists()
    assert not CustomerSession.objects.filter(customer=zelda).exists()
    assert not PortalSignInCode.objects.filter(email_lower=EMAIL.lower()).exists()
    assert not OutgoingEmail.objects.filter(to__iexact=EMAIL).exists()
    assert IdempotencyKey.objects.get(key="create-zelda").status_code == 410
    merged = Customer.objects.get(merged_into=zelda)
    assert merged.erased_at == erased.erased_at
    assert merged.email == f"erased-{merged.pk}@erased.invalid"

    audit = Entry.objects.get(customer=zelda, type="customer.erased")
    assert (audit.actor_type, audit.actor_id) == ("system", "")  # outside a request
    assert audit.changes["merged_customers_erased"] == [0, 1]
    scrubbed = Entry.objects.get(customer=zelda, type="customer.created").changes
    assert scrubbed["email"] == [None, ERASED]
    assert scrubbed["billing_address_country"] == [None, "FR"]

    deleted = WebhookEvent.objects.get(customer_id=zelda.pk, type="customer.deleted")
    data = deleted.document()["data"]
    assert (
        data["email"] == erased.email
        and data["name"] is None
        and data["metadata"] == {"__external_id": "usr_zelda"}
    )
    assert data["billing_address"]["country"] == "FR"
    assert data["deleted_at"] is not None


def test_an_erased_customer_cannot_be_erased_again(zelda, owner):
    privacy.customer_erase(customer=zelda, erased_by=owner)
    with pytest.raises(Customer.DoesNotExist):
        privacy.customer_erase(customer=zelda, erased_by=owner)


def test_a_stale_version_is_refused_and_nothing_is_erased(zelda, owner):
    with pytest.raises(services.StaleCustomerError):
        privacy.customer_erase(customer=zelda, expected_version=zelda.version - 1)
    zelda.refresh_from_db()
    assert zelda.erased_at is None and zelda.email == EMAIL


def test_a_failing_scrubber_rolls_the_whole_erasure_back(zelda, owner, monkeypatch):
    def broken(erasure_):
        raise RuntimeError("scrubber failed")

    monkeypatch.setattr(erasure, "_scrubbers", [*erasure._scrubbers, broken])
    with pytest.raises(RuntimeError):
        privacy.customer_erase(customer=zelda, erased_by=owner)

    zelda.refresh_from_db()
    assert (zelda.email, zelda.erased_at, zelda.deleted_at) == (EMAIL, None, None)
    assert Note.objects.filter(customer=zelda).exists()
    assert CustomerSession.objects.filter(customer=zelda).exists()
    assert PERSONAL["merged_email"] in {c.email for c in Customer.objects.filter(merged_into=zelda)}
    assert found_anywhere([PERSONAL["note"]])


def test_an_export_that_fails_leaves_the_customer_unerased(zelda, owner):
    class Broken:
        def write(self, data):
            raise OSError("disk full")

    with pytest.raises(OSError):
        privacy.customer_erase(customer=zelda, erased_by=owner, export_to=Broken())
    zelda.refresh_from_db()
    assert zelda.erased_at is None and zelda.email == EMAIL


def test_export_then_erase_hands_back_the_export_of_the_customer_as_it_was(zelda, owner):
    spool, erased = privacy.export_then_erase(customer=zelda, erased_by=owner)
    document = json.loads(spool.read())
    assert document["customer"]["email"] == EMAIL
    assert erased.erased_at is not None
    assert Entry.objects.filter(customer=zelda, type="customer.exported").exists()


def test_another_organizations_customer_is_not_found(zelda, other_organization):
    key = services.CustomerKey(organization_id=other_organization.pk, id=zelda.pk)
    with pytest.raises(Customer.DoesNotExist):
        privacy.customer_erase(customer=key)
    zelda.refresh_from_db()
    assert zelda.erased_at is None


def test_a_checkout_event_written_before_the_checkout_had_a_customer_is_scrubbed(zelda, owner):
    before = WebhookEvent.objects.filter(type="checkout.created", customer_id=None)
    assert before.exists()
    privacy.customer_erase(customer=zelda, erased_by=owner)
    payload = before.get().document()["data"]
    assert payload["customer_email"] == f"erased-{zelda.pk}@erased.invalid"
    assert payload["customer_name"] is None and payload["customer_metadata"] == {}


def test_erase_statements_do_not_grow_with_the_orders(organization, owner, endpoint):
    from tests.factories import OrderFactory

    def statements(orders):
        customer = services.customer_create(
            organization=organization, email=f"n{orders}@example.com", name="N"
        )
        for _ in range(orders):
            OrderFactory(customer=customer, organization=organization)
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            privacy.customer_erase(customer=customer, erased_by=owner)
        return len(captured.captured_queries)

    statements(1)  # the first also reads the organization's webhook listeners
    assert statements(2) == statements(12)


def test_a_session_expiring_soon_is_deleted_too(zelda, owner):
    CustomerSession.objects.filter(customer=zelda).update(
        expires_at=timezone.now() + timedelta(seconds=5)
    )
    privacy.customer_erase(customer=zelda, erased_by=owner)
    assert not CustomerSession.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_an_erase_either_lands_first_and_is_erased_or_finds_it_gone(
    postgres_only, organization, owner
):
    """The erasure locks the customer's row: an update queued behind it finds the customer
    deleted (404), one ahead of it is erased with the rest; never a personal value written
    after the scrub."""
    from tests.customers.test_concurrency import race

    customer = services.customer_create(
        organization=organization, email="racer@example.com", name="Racer"
    )

    def act(i):
        if i == 0:
            return privacy.customer_erase(customer=customer, erased_by=owner)
        return services.customer_update(customer=customer, name="Racer Renamed")

    for _ in range(3):
        results = race(act)
        erased = Customer.objects.get(pk=customer.pk)
        assert erased.erased_at is not None and erased.name == ""
        assert isinstance(results[1], Customer | Customer.DoesNotExist), results
        assert not found_anywhere(["Racer Renamed", "racer@example.com"])
        customer = services.customer_create(
            organization=organization, email="racer@example.com", name="Racer"
        )

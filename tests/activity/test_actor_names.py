"""An actor who is the entry's own customer (a buyer at checkout, the customer in the
portal: activity.models.PERSONAL_ACTORS) is stored without a name; the timeline page, its
API and the audit log (page and CSV) show the customer's name, else email, as it is when
read (a changed email shows the new one), and "[erased]" once the customer is erased. So
erasing a customer rewrites none of those entries for their actor (issue 18: 10,000 orders
must erase in under 2 s). Entries written before keep the name they stored: shown as it
is, and erased."""

import csv
import html
import io
import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from activity import display
from activity.api import timeline_entry_out
from activity.models import Entry
from checkouts import services as checkout_services
from core.erasure import ERASED, placeholder_email
from customers import privacy, services
from customers.models import Customer
from portal.services import acting_as_customer
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

PERSONAL = {"buyer", "customer"}


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def bought(organization, email="ada@example.com") -> Customer:
    product = ProductFactory(organization=organization, recurring_interval="month")
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email=email
    )
    return checkout_services.checkout_confirm(
        checkout=checkout, payment_token="tok_test_success"
    ).customer


def personal_entries(customer) -> list[Entry]:
    return list(Entry.objects.filter(customer=customer, actor_type__in=PERSONAL))


def page_names(client, customer) -> dict[str, str]:
    """Entry ID -> the actor's name on the customer's timeline page."""
    url = reverse("activity:timeline", args=[customer.organization.slug, customer.pk])
    response = client.get(url)
    assert response.status_code == 200
    found = re.findall(
        r'id="entry-([0-9a-f-]{36})".*?<span class="entry-actor">by ([^<]*?)(?: <span|</span>)',
        response.text,
        re.DOTALL,
    )
    return {pk: html.unescape(name) for pk, name in found}


def api_names(api, customer) -> dict[str, str]:
    response = api.get(f"/v1/customers/{customer.pk}/timeline?limit=100")
    assert response.status_code == 200
    return {item["id"]: item["actor"]["name"] for item in response.json()["items"]}


def audit_names(client, organization) -> dict[str, str]:
    """Entry ID -> the actor's name in the audit log."""
    response = client.get(reverse("audit:log", args=[organization.slug]))
    assert response.status_code == 200
    found = re.findall(
        r'data-entry="([0-9a-f-]{36})".*?title="Only this actor\u2019s entries">([^<]*)</a>',
        response.text,
        re.DOTALL,
    )
    return {pk: html.unescape(name) for pk, name in found}


def csv_names(client, organization) -> set[tuple[str, str]]:
    """(actor_type, actor_name) of the audit log's CSV rows of personal actors."""
    response = client.get(reverse("audit:export", args=[organization.slug]))
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return {(r["actor_type"], r["actor_name"]) for r in rows if r["actor_type"] in PERSONAL}


def shown_everywhere(client, api, customer) -> set[str]:
    """The names the personal actors of `customer`'s entries are shown by, on the timeline
    page, in the API and in the audit log (each must show every one of them)."""
    ids = {str(e.pk) for e in personal_entries(customer)}
    assert ids
    page, api_, audit = (
        page_names(client, customer),
        api_names(api, customer),
        audit_names(client, customer.organization),
    )
    names = set()
    for shown in (page, api_, audit):
        assert ids <= set(shown)
        names |= {shown[pk] for pk in ids}
    return names


def test_a_checkouts_entries_store_no_email_and_show_the_customers_as_it_is_now(
    owner_client, api, organization
):
    customer = bought(organization)
    entries = personal_entries(customer)
    assert {e.type for e in entries} >= {"order.created", "order.paid", "checkout.completed"}
    assert {(e.actor_type, e.actor_name) for e in entries} == {("buyer", "")}
    assert shown_everywhere(owner_client, api, customer) == {"ada@example.com"}
    assert csv_names(owner_client, organization) == {("buyer", "ada@example.com")}
    # The live name: a changed email shows the new one, a name the name.
    customer = services.customer_update(customer=customer, email="ada.l@example.com")
    assert shown_everywhere(owner_client, api, customer) == {"ada.l@example.com"}
    customer = services.customer_update(customer=customer, name="Ada Lovelace")
    assert shown_everywhere(owner_client, api, customer) == {"Ada Lovelace"}
    assert csv_names(owner_client, organization) == {("buyer", "Ada Lovelace")}


def test_a_portal_change_shows_the_customers_name(owner_client, api, organization):
    customer = CustomerFactory(organization=organization, email="ada@example.com", name="Ada")
    with acting_as_customer(customer):
        customer = services.customer_update(customer=customer, name="Ada Lovelace")
    (entry,) = personal_entries(customer)
    assert (entry.actor_type, entry.actor_id, entry.actor_name) == (
        "customer",
        str(customer.pk),
        "",
    )
    assert shown_everywhere(owner_client, api, customer) == {"Ada Lovelace"}
    assert csv_names(owner_client, organization) == {("customer", "Ada Lovelace")}


def test_an_erased_customer_is_shown_as_erased_never_its_placeholder_email(
    owner_client, organization
):
    customer = bought(organization)
    with acting_as_customer(customer):
        customer = services.customer_update(customer=customer, name="Ada Lovelace")
    ids = {str(e.pk) for e in personal_entries(customer)}
    privacy.customer_erase(customer=customer)
    erased = Customer.objects.get(pk=customer.pk)
    assert erased.email == placeholder_email(customer.pk)
    # The entries are as they were written: no name to erase.
    assert {e.actor_name for e in personal_entries(customer)} == {""}
    # Its timeline page and API are a 404 (the customer is deleted): the audit log shows it.
    audit = audit_names(owner_client, organization)
    assert {audit[pk] for pk in ids} == {ERASED}
    assert csv_names(owner_client, organization) == {("buyer", ERASED), ("customer", ERASED)}
    # As would the timeline's rows and the API's entries, read with the erased customer.
    entries = personal_entries(erased)
    rows = display.rows_of(entries, {}, timezone.now(), erased)
    assert {row.actor_name for row in rows} == {ERASED}
    assert {timeline_entry_out(e, {}, erased)["actor"]["name"] for e in entries} == {ERASED}


def legacy_entry(customer, name: str, actor_type: str = "buyer") -> Entry:
    """An entry as written before actors who are the customer were stored without a name."""
    return Entry.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        type="order.paid",
        actor_type=actor_type,
        actor_id="4f1c2a9e-0000-7000-8000-000000000001",
        actor_name=name,
        source="checkout",
        changes={"status": ["open", "paid"]},
    )


def test_a_legacy_entry_shows_its_stored_name_and_is_erased(owner_client, api, organization):
    customer = CustomerFactory(organization=organization, email="ada@example.com")
    legacy = legacy_entry(customer, "ada.old@example.com")
    assert shown_everywhere(owner_client, api, customer) == {"ada.old@example.com"}
    privacy.customer_erase(customer=customer)
    legacy.refresh_from_db()
    assert legacy.actor_name == ERASED
    assert audit_names(owner_client, organization)[str(legacy.pk)] == ERASED


def test_the_erasure_rewrites_legacy_entries_only_for_their_actor(organization):
    customer = CustomerFactory(organization=organization, email="ada@example.com")
    new = [
        Entry.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            type=type_,
            actor_type=actor_type,
            actor_id=str(customer.pk),
            source="checkout",
            changes={"status": [None, "paid"]},  # nothing personal
        )
        for type_, actor_type in [
            ("order.created", "buyer"),
            ("order.paid", "buyer"),
            ("subscription.canceled", "customer"),
        ]
    ]
    legacy = [legacy_entry(customer, "ada@example.com"), legacy_entry(customer, "Ada", "customer")]
    before = _xmins(new)
    updated = []

    def count_updates(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "activity_entry"'):
            updated.append(context["cursor"].rowcount)
        return result

    with connection.execute_wrapper(count_updates):
        privacy.customer_erase(customer=customer)
    assert updated == [len(legacy)]  # one statement, the legacy entries alone
    assert {e.actor_name for e in Entry.objects.filter(pk__in=[e.pk for e in legacy])} == {ERASED}
    assert _xmins(new) == before  # PostgreSQL: the same row versions, never rewritten


def _xmins(entries: list[Entry]) -> dict | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, xmin::text FROM activity_entry WHERE id = ANY(%s)",
            [[e.pk for e in entries]],
        )
        return dict(cursor.fetchall())

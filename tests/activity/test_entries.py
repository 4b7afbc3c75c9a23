"""Every write path leaves its timeline entry, in the change's own transaction, with who
acted, from where, in which request, and what changed as [old, new]."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from activity.models import Entry
from checkouts import services as checkout_services
from core.changes import Actor, acting
from customers import services
from customers.models import Customer
from orders.services import renew_due_subscriptions
from organizations.models import OrganizationAccessToken
from tests.factories import CustomerFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def entries(customer, **filters) -> list[Entry]:
    return list(Entry.objects.filter(customer=customer, **filters).order_by("created_at", "id"))


def test_an_api_update_names_the_token_the_request_and_each_metadata_key(api, organization, token):
    customer = CustomerFactory(
        organization=organization, external_id="usr_1", metadata={"plan": "pro", "n": 1}
    )
    response = api.patch(
        "/v1/customers/external/usr_1",
        {"metadata": {"plan": "team", "n": True, "new": "x"}, "name": "Ada"},
        content_type="application/json",
        headers={"X-Request-ID": "req-abcdef-123"},
    )
    assert response.status_code == 200
    (entry,) = entries(customer)
    access_token = OrganizationAccessToken.objects.get()
    assert (entry.type, entry.source, entry.request_id) == (
        "customer.updated",
        "api",
        "req-abcdef-123",
    )
    assert (entry.actor_type, entry.actor_id, entry.actor_name) == (
        "token",
        str(access_token.pk),
        access_token.name,
    )
    assert token not in json.dumps(entry.changes) + entry.actor_name  # never the secret
    assert entry.changes == {
        # A retype shows both typed values; a new key has null before it.
        "metadata.n": [1, True],
        "metadata.new": [None, "x"],
        "metadata.plan": ["pro", "team"],
        "name": [customer.name, "Ada"],
    }


def test_an_api_create_lists_the_fields_it_was_given(api, organization):
    response = api.post(
        "/v1/customers/",
        {"email": "ada@example.com", "external_id": "usr_9", "metadata": {"k": 1}},
        content_type="application/json",
    )
    customer = Customer.objects.get(pk=response.json()["id"])
    (entry,) = entries(customer)
    assert entry.type == "customer.created"
    assert entry.changes == {
        "email": [None, "ada@example.com"],
        "external_id": [None, "usr_9"],
        "metadata.k": [None, 1],
    }


def test_setting_the_external_id_stands_out(organization):
    customer = CustomerFactory(organization=organization, external_id=None)
    services.customer_update(customer=customer, external_id="usr_1")
    assert [e.type for e in entries(customer)] == ["customer.updated", "external_id.set"]
    assert entries(customer, type="external_id.set")[0].changes == {"external_id": [None, "usr_1"]}


def test_a_dashboard_edit_names_the_member(client, owner, organization):
    customer = CustomerFactory(organization=organization, metadata={"old": "v"})
    client.force_login(owner)
    url = reverse("customers:metadata", args=[organization.slug, customer.pk])
    response = client.post(url, {"key": "plan", "value": "pro", "type": "string"})
    assert response.status_code in (200, 302)
    (entry,) = entries(customer)
    assert (entry.source, entry.actor_type, entry.actor_id) == ("dashboard", "user", str(owner.pk))
    assert entry.changes == {"metadata.plan": [None, "pro"]}


def test_an_admin_edit_names_the_staff_member(client, staff, organization):
    customer = CustomerFactory(organization=organization, name="Old")
    client.force_login(staff)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    data = {
        "email": customer.email,
        "name": "New",
        "external_id": "",
        "metadata": json.dumps(customer.metadata),
        "_save": "Save",
    }
    for field in ("billing_name", "billing_address_line1", "billing_address_line2"):
        data[field] = ""
    for part in ("postal_code", "city", "state", "country"):
        data[f"billing_address_{part}"] = ""
    data.update({"tax_id": "", "locale": ""})
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    (entry,) = entries(customer)
    assert (entry.source, entry.actor_type, entry.actor_id) == ("admin", "staff", str(staff.pk))
    assert entry.changes == {"name": ["Old", "New"]}


def test_a_checkout_is_the_buyers(organization):
    product = ProductFactory(organization=organization, recurring_interval="month")
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    done = checkout_services.checkout_confirm(checkout=checkout, payment_token="tok_test_success")
    timeline = entries(done.customer)
    assert [e.type for e in timeline] == [
        "customer.created",
        "subscription.created",
        "order.created",
        "order.paid",
        "checkout.completed",
    ]
    # The buyer by the checkout's ID, with no name: the timeline shows the customer's
    # (tests/activity/test_actor_names.py), so erasing them rewrites none of these entries.
    assert {(e.actor_type, e.actor_id, e.actor_name) for e in timeline} == {
        ("buyer", str(done.pk), "")
    }
    assert timeline[1].subject_id == done.subscription.pk
    assert timeline[2].subject_id == done.order.pk
    assert timeline[4].subject_id == done.pk


def test_a_renewal_is_the_systems(organization):
    start = datetime(2026, 1, 31, 12, tzinfo=UTC)
    subscription = SubscriptionFactory(
        customer__organization=organization,
        product__organization=organization,
        started_at=start,
        current_period_start=start,
        current_period_end=datetime(2026, 2, 28, 12, tzinfo=UTC),
        payment_method_token="tok_test_success",
    )
    renew_due_subscriptions(now=datetime(2026, 2, 28, 13, tzinfo=UTC))
    renewed = entries(subscription.customer, type="subscription.renewed")[0]
    assert (renewed.actor_type, renewed.source) == ("system", "system")
    assert renewed.changes["current_period_end"][0].startswith("2026-02-28T12:00:00")
    assert entries(subscription.customer, type="order.paid")


def test_an_explicit_actor_wins(organization):
    customer = CustomerFactory(organization=organization)
    with acting(actor=Actor("customer", str(customer.pk), "Ada"), source="portal"):
        services.customer_update(customer=customer, name="Ada")
    (entry,) = entries(customer)
    assert (entry.actor_type, entry.actor_name, entry.source) == ("customer", "Ada", "portal")


def test_a_refused_change_leaves_no_entry(organization):
    CustomerFactory(organization=organization, email="taken@example.com")
    customer = CustomerFactory(organization=organization)
    with pytest.raises(ValidationError):
        services.customer_update(customer=customer, email="TAKEN@example.com")
    assert entries(customer) == []
    assert Entry.objects.count() == 0


def test_a_rolled_back_transaction_takes_its_entries_with_it(organization):
    from django.db import transaction

    customer = CustomerFactory(organization=organization)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.customer_update(customer=customer, name="Gone")
        raise RuntimeError
    assert entries(customer) == []


def test_deleting_and_anonymizing(organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    services.customer_delete(customer=customer, anonymize=True)
    assert [e.type for e in entries(customer)] == ["customer.deleted", "customer.anonymized"]
    deleted = entries(customer)[0]
    assert deleted.changes["external_id"] == ["usr_1", None]
    assert deleted.changes["metadata.__external_id"] == [None, "usr_1"]


def test_anonymizing_scrubs_personal_values_from_the_timeline(organization):
    product = ProductFactory(organization=organization, recurring_interval=None)
    checkout = checkout_services.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    customer = checkout_services.checkout_confirm(
        checkout=checkout, payment_token="tok_test_success"
    ).customer
    services.customer_update(customer=customer, name="Ada Lovelace", metadata={"plan": "pro"})
    services.customer_delete(customer=customer, anonymize=True)
    text = json.dumps([(e.changes, e.actor_name) for e in entries(customer)])
    assert "ada@example.com" not in text and "Lovelace" not in text
    updated = entries(customer, type="customer.updated")[0]
    # Which fields changed and when stays; so does what is not personal.
    assert updated.changes == {"metadata.plan": [None, "pro"], "name": ["", "[anonymized]"]}

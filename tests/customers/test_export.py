"""A customer's data export (customers.privacy): every section's contents, the customers
merged into it, bounded memory, and the dashboard's download and erase pages."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activity.services import note_add
from checkouts import services as checkouts
from core import erasure
from customers import privacy, services
from customers.models import Customer
from orders.models import Subscription
from tests.factories import OrderFactory, ProductFactory
from webhooks.models import EventType, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(organization):
    WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=list(EventType.values)
    )
    customer = services.customer_create(
        organization=organization,
        email="ada@example.com",
        name="Ada Lovelace",
        external_id="usr_ada",
        metadata={"plan": "pro"},
        billing_address_country="GB",
    )
    note_add(customer=customer, body="Call back on Monday")
    product = ProductFactory(organization=organization, price_amount=1500)
    checkout = checkouts.checkout_create(
        organization=organization, product=product, customer_email="ada@example.com"
    )
    checkouts.checkout_confirm(checkout=checkout, payment_token="tok_test_success")
    merged = services.customer_create(organization=organization, email="ada.old@example.com")
    Customer.objects.filter(pk=merged.pk).update(merged_into=customer, deleted_at=timezone.now())
    customer.refresh_from_db()
    return customer


def export(customer) -> dict:
    return json.loads("".join(privacy.customer_export_pieces(customer=customer)))


def test_the_export_holds_every_section_of_the_documented_format(ada):
    document = export(ada)

    assert list(document) == [
        "format_version", "exported_at", "organization", "customer", "merged_customers",
        "orders", "subscriptions", "checkouts", "notes", "timeline", "webhook_events",
    ]  # fmt: skip
    assert document["format_version"] == 1
    assert document["organization"] == {"id": str(ada.organization_id), "name": "Acme"}
    profile = document["customer"]
    assert (profile["email"], profile["name"], profile["external_id"]) == (
        "ada@example.com",
        "Ada Lovelace",
        "usr_ada",
    )
    assert profile["metadata"] == {"plan": "pro"}
    assert profile["billing_address"]["country"] == "GB"
    assert [c["email"] for c in document["merged_customers"]] == ["ada.old@example.com"]
    (order,) = document["orders"]
    assert order["total_amount"] == 1500 and order["currency"] == "usd"
    (subscription,) = document["subscriptions"]
    assert subscription["id"] == str(Subscription.objects.get(customer=ada).pk)
    (checkout,) = document["checkouts"]
    assert checkout["customer_email"] == "ada@example.com"
    assert "client_secret" not in checkout
    assert [n["body"] for n in document["notes"]] == ["Call back on Monday"]
    types = {entry["type"] for entry in document["timeline"]}
    assert {"customer.created", "note.added", "order.created", "checkout.completed"} <= types
    # The merged customer's own entries are the export's too.
    merged_id = document["merged_customers"][0]["id"]
    assert merged_id in {entry["customer_id"] for entry in document["timeline"]}
    events = {event["type"] for event in document["webhook_events"]}
    assert {"customer.created", "order.paid", "checkout.created"} <= events
    created = next(e for e in document["webhook_events"] if e["type"] == "customer.created")
    assert created["payload"]["data"]["email"] == "ada@example.com"


def test_the_export_reads_in_batches_and_streams_a_piece_per_row(ada, monkeypatch):
    for _ in range(4):
        OrderFactory(customer=ada, organization=ada.organization)
    monkeypatch.setattr(privacy, "BATCH", 2)
    pieces = privacy.customer_export_pieces(customer=ada)
    with CaptureQueriesContext(connection) as captured:
        text = "".join(pieces)
    order_queries = [q for q in captured.captured_queries if '"orders_order"' in q["sql"]]
    assert len(order_queries) == 3  # 5 orders, 2 a batch
    assert len(json.loads(text)["orders"]) == 5


def test_a_registered_section_joins_the_export(ada, monkeypatch):
    monkeypatch.setattr(erasure, "_sections", {**erasure._sections, "extra": lambda o, i: [1]})
    assert export(ada)["extra"] == [1]


def test_the_filename_names_the_organization_the_customer_and_the_day(ada):
    assert privacy.export_filename(ada).startswith(f"acme-customer-{ada.pk}-export-20")


# --- Dashboard -----------------------------------------------------------------------------


def test_an_owner_downloads_the_export_and_it_is_audited(client, owner, ada):
    client.force_login(owner)
    response = client.get(reverse("customers:data_export", args=["acme", ada.pk]))

    assert response.status_code == 200
    assert f"acme-customer-{ada.pk}-export-" in response["Content-Disposition"]
    assert json.loads(b"".join(response.streaming_content))["customer"]["id"] == str(ada.pk)
    entry = ada.timeline.get(type="customer.exported")
    assert (entry.actor_type, entry.actor_id) == ("user", str(owner.pk))


def test_the_customer_page_offers_export_and_erase_to_owners_only(client, owner, member, ada):
    url = reverse("customers:detail", args=["acme", ada.pk])
    client.force_login(owner)
    page = client.get(url).text
    assert "Export data" in page and "Export then erase" in page
    client.force_login(member)
    page = client.get(url).text
    assert "Export data" not in page and "Export then erase" not in page


def test_a_member_gets_403_and_nothing_is_erased(client, member, ada):
    client.force_login(member)
    url = reverse("customers:erase", args=["acme", ada.pk])
    response = client.post(url, {"confirm_email": ada.email, "version": ada.version})
    assert response.status_code == 403
    assert Customer.objects.get(pk=ada.pk).erased_at is None


def test_the_confirmation_says_it_is_irreversible_and_wants_the_email(client, owner, ada):
    client.force_login(owner)
    url = reverse("customers:erase", args=["acme", ada.pk])
    page = client.get(url + "?export=1").text
    assert "This cannot be undone." in page and "ada@example.com" in page
    assert "erases the 1 customer merged into this one" in page

    wrong = client.post(url, {"confirm_email": "someone@example.com", "version": ada.version})
    assert wrong.status_code == 422
    assert "email exactly to confirm" in wrong.content.decode()
    assert Customer.objects.get(pk=ada.pk).erased_at is None


def test_export_then_erase_answers_the_export_file_and_erases(client, owner, ada):
    client.force_login(owner)
    url = reverse("customers:erase", args=["acme", ada.pk])
    response = client.post(
        url, {"confirm_email": "ADA@example.com", "version": ada.version, "export": "1"}
    )

    assert response.status_code == 200
    assert f"acme-customer-{ada.pk}-export-" in response["Content-Disposition"]
    document = json.loads(b"".join(response.streaming_content))
    assert document["customer"]["email"] == "ada@example.com"
    erased = Customer.objects.get(pk=ada.pk)
    assert erased.erased_by == owner and erased.email.endswith("@erased.invalid")
    entry = ada.timeline.get(type="customer.erased")
    assert (entry.actor_type, entry.actor_id, entry.source) == ("user", str(owner.pk), "dashboard")

    again = client.post(url, {"confirm_email": "ada@example.com", "version": erased.version})
    assert again.status_code == 404


def test_erase_without_the_export_goes_back_to_the_list(client, owner, ada):
    client.force_login(owner)
    url = reverse("customers:erase", args=["acme", ada.pk])
    response = client.post(url, {"confirm_email": ada.email, "version": ada.version})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list", args=["acme"])
    assert Customer.objects.get(pk=ada.pk).erased_at is not None


def test_an_edit_since_the_page_was_read_is_a_409_and_nothing_is_erased(client, owner, ada):
    client.force_login(owner)
    read_version = ada.version
    services.customer_update(customer=ada, name="Ada King")
    url = reverse("customers:erase", args=["acme", ada.pk])
    response = client.post(
        url, {"confirm_email": ada.email, "version": read_version, "export": "1"}
    )
    assert response.status_code == 409
    assert "download the export again" in response.content.decode()
    assert Customer.objects.get(pk=ada.pk).erased_at is None

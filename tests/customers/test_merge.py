"""Merging two customers: the preview writes nothing; the merge moves everything, keeps the
merged customer's IDs answering for the survivor, reports the change, and refuses what it
must (another organization, itself, deleted, merged meanwhile, changed since the preview)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from activity.models import Entry, Note
from activity.services import note_add
from checkouts.models import Checkout
from checkouts.services import checkout_create
from customers.merging import MergeConflict, customer_merge, merge_preview
from customers.models import Customer, CustomerAlias, DuplicatePair
from customers.services import customer_create, customer_delete, customer_update
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory
from webhooks.models import WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(
        organization=organization,
        url="https://hooks.example.com/in",
        events=["customer.updated", "customer.deleted"],
    )


@pytest.fixture
def ada(organization):
    return customer_create(
        organization=organization,
        email="ada@example.com",
        name="Ada",
        external_id="usr_ada",
        metadata={"plan": "pro", "seats": 3},
    )


@pytest.fixture
def twin(organization):
    return customer_create(
        organization=organization,
        email="ada+shop@example.com",
        name="Ada Lovelace",
        billing_name="Ada Lovelace",
        billing_address_line1="1 Analytical Way",
        billing_address_postal_code="SW1A 1AA",
        billing_address_city="London",
        billing_address_country="GB",
        external_id="shop_7",
        metadata={"plan": "basic", "source": "shop"},
    )


@pytest.fixture
def rows(organization, twin):
    product = ProductFactory(organization=organization)
    subscription = SubscriptionFactory(customer=twin, product=product)
    orders = [OrderFactory(customer=twin, product=product) for _ in range(3)]
    checkout = checkout_create(organization=organization, product=product)
    Checkout.objects.filter(pk=checkout.pk).update(customer=twin)
    note = note_add(customer=twin, body="Prefers email.")
    return {"subscription": subscription, "orders": orders, "checkout": checkout, "note": note}


def merge(organization, ada, twin, **kwargs):
    return customer_merge(
        organization=organization, customer_id=ada.pk, from_customer_id=twin.pk, **kwargs
    )


def state() -> list:
    return [
        list(Customer.objects.order_by("pk").values_list("pk", "version", "deleted_at", "email")),
        list(Order.objects.order_by("pk").values_list("pk", "customer_id")),
        list(Subscription.objects.order_by("pk").values_list("pk", "customer_id")),
        Entry.objects.count(),
        Note.objects.values_list("customer_id", flat=True).first(),
        WebhookEvent.objects.count(),
        CustomerAlias.objects.count(),
    ]


# --- Preview ------------------------------------------------------------------------------


def test_the_preview_shows_both_and_the_result_and_writes_nothing(
    organization, ada, twin, rows, endpoint
):
    before = state()
    plan = merge_preview(organization=organization, customer_id=ada.pk, from_customer_id=twin.pk)
    assert state() == before
    fields = {row["field"]: row for row in plan.fields}
    assert fields["email"]["customer"] == "ada@example.com"
    assert fields["email"]["from_customer"] == "ada+shop@example.com"
    assert fields["email"]["result"] == "ada@example.com"
    assert fields["name"]["result"] == "Ada"
    # The survivor has no billing details: the other's are taken by default.
    assert fields["billing_address_city"]["result"] == "London"
    assert fields["billing_address_city"]["choice"] == "from_customer"
    metadata = {row["key"]: row for row in plan.metadata}
    assert metadata["plan"]["conflict"] and metadata["plan"]["result"] == "pro"
    assert not metadata["source"]["conflict"] and metadata["source"]["result"] == "shop"
    assert plan.result_metadata == {"plan": "pro", "seats": 3, "source": "shop"}
    assert plan.moves == {"orders": 3, "subscriptions": 1, "checkouts": 1, "notes": 1,
                          "timeline": Entry.objects.filter(customer=twin).count()}  # fmt: skip
    assert plan.external_id == "usr_ada" and plan.external_id_alias == "shop_7"


def test_the_preview_follows_the_choices(organization, ada, twin):
    plan = merge_preview(
        organization=organization,
        customer_id=ada.pk,
        from_customer_id=twin.pk,
        fields={"email": "from_customer", "name": "from_customer", "billing": "customer"},
        metadata={"plan": "from_customer"},
    )
    assert plan.result["email"] == "ada+shop@example.com"
    assert plan.result["name"] == "Ada Lovelace"
    assert plan.result["billing_address_city"] == ""
    assert plan.result_metadata["plan"] == "basic"


def test_a_bad_choice_is_a_validation_error(organization, ada, twin):
    with pytest.raises(ValidationError) as error:
        merge_preview(
            organization=organization, customer_id=ada.pk, from_customer_id=twin.pk,
            fields={"email": "both", "colour": "customer"}, metadata={"nope": "customer"},
        )  # fmt: skip
    assert set(error.value.message_dict) == {"fields.email", "fields.colour", "metadata.nope"}


def test_a_union_of_more_than_50_keys_is_refused(organization):
    one = customer_create(organization=organization, email="a@x.test",
                          metadata={f"a{i}": 1 for i in range(30)})  # fmt: skip
    two = customer_create(organization=organization, email="b@x.test",
                          metadata={f"b{i}": 1 for i in range(30)})  # fmt: skip
    with pytest.raises(ValidationError) as error:
        merge(organization, one, two)
    assert "metadata" in error.value.message_dict
    assert not Customer.objects.get(pk=two.pk).is_deleted


# --- Merge: the moves ---------------------------------------------------------------------


def test_the_merge_moves_everything_to_the_survivor(organization, ada, twin, rows):
    twin_entries = set(Entry.objects.filter(customer=twin).values_list("pk", flat=True))
    plan = merge(organization, ada, twin)
    assert set(Order.objects.values_list("customer_id", flat=True)) == {ada.pk}
    assert Subscription.objects.get().customer_id == ada.pk
    assert Checkout.objects.get(pk=rows["checkout"].pk).customer_id == ada.pk
    assert Note.objects.get(pk=rows["note"].pk).customer_id == ada.pk
    assert set(Entry.objects.filter(pk__in=twin_entries).values_list("customer", flat=True)) == {
        ada.pk
    }
    assert plan.moves["orders"] == 3 and plan.moves["timeline"] == len(twin_entries)


def test_the_merged_customer_is_deleted_with_merged_into(organization, ada, twin):
    merge(organization, ada, twin)
    twin = Customer.objects.get(pk=twin.pk)
    assert twin.is_deleted and twin.merged_into_id == ada.pk
    assert not Customer.objects.for_org(organization).filter(pk=twin.pk).exists()
    ada = Customer.objects.get(pk=ada.pk)
    assert ada.metadata == {"plan": "pro", "seats": 3, "source": "shop"}
    assert ada.billing_address_city == "London" and ada.email == "ada@example.com"


def test_the_survivor_may_take_the_other_customers_email(organization, ada, twin):
    merge(organization, ada, twin, fields={"email": "from_customer"})
    assert Customer.objects.get(pk=ada.pk).email == "ada+shop@example.com"


def test_its_duplicate_pairs_go_with_it(organization, ada, twin):
    third = CustomerFactory(organization=organization)
    low, high = sorted([twin, third], key=lambda c: c.pk)
    DuplicatePair.objects.create(
        organization=organization, customer=low, other=high, reasons=["email"], score=0.9
    )
    merge(organization, ada, twin)
    assert not DuplicatePair.objects.exists()


def test_the_merge_reports_on_both_timelines_and_sends_both_webhooks(
    organization, ada, twin, endpoint, owner
):
    merge(organization, ada, twin)
    survivor_entry = Entry.objects.filter(customer=ada).latest("created_at")
    assert survivor_entry.type == "customer.updated"
    assert survivor_entry.changes["merged_from"] == [None, str(twin.pk)]
    merged_entry = Entry.objects.get(customer=twin)
    assert merged_entry.type == "customer.deleted"
    assert merged_entry.changes["merged_into"] == [None, str(ada.pk)]
    events = {e.type: e for e in WebhookEvent.objects.filter(type__startswith="customer.")}
    assert events["customer.updated"].customer_id == ada.pk
    deleted = events["customer.deleted"]
    assert deleted.customer_id == twin.pk
    assert deleted.payload["data"]["merged_into"] == str(ada.pk)
    assert deleted.payload["data"]["id"] == str(twin.pk)


# --- Aliases and external IDs -------------------------------------------------------------


def test_both_external_ids_the_survivor_keeps_its_own_and_the_other_is_an_alias(
    organization, ada, twin
):
    merge(organization, ada, twin)
    assert Customer.objects.get(pk=ada.pk).external_id == "usr_ada"
    aliases = set(CustomerAlias.objects.values_list("kind", "value", "customer", "merged_customer"))
    assert aliases == {
        ("id", str(twin.pk), ada.pk, twin.pk),
        ("external_id", "shop_7", ada.pk, twin.pk),
    }
    assert CustomerAlias.survivor_id(organization.pk, external_id="shop_7") == ada.pk
    assert CustomerAlias.survivor_id(organization.pk, id=twin.pk) == ada.pk


def test_a_survivor_without_external_id_takes_the_other_ones(organization, twin):
    plain = customer_create(organization=organization, email="plain@example.com")
    merge(organization, plain, twin)
    plain = Customer.objects.get(pk=plain.pk)
    assert plain.external_id == "shop_7" and plain.external_id_locked
    assert Customer.objects.get(pk=twin.pk).external_id is None
    assert not CustomerAlias.objects.filter(kind="external_id").exists()
    with pytest.raises(ValidationError):
        customer_update(customer=plain, external_id="other")  # the lock holds


def test_an_aliased_external_id_stays_taken(organization, ada, twin):
    merge(organization, ada, twin)
    with pytest.raises(ValidationError) as error:
        customer_create(organization=organization, email="new@example.com", external_id="shop_7")
    assert error.value.message_dict == {
        "external_id": ["A customer with this external ID already exists."]
    }
    other = customer_create(organization=organization, email="new@example.com")
    with pytest.raises(ValidationError) as error:
        customer_update(customer=other, external_id="shop_7")
    assert "already exists" in error.value.message_dict["external_id"][0]


def test_a_later_merge_moves_the_aliases_along(organization, ada, twin):
    merge(organization, ada, twin)
    third = customer_create(organization=organization, email="third@example.com",
                            external_id="crm_3")  # fmt: skip
    customer_merge(organization=organization, customer_id=third.pk, from_customer_id=ada.pk)
    assert set(CustomerAlias.objects.values_list("value", "customer")) == {
        (str(twin.pk), third.pk),
        ("shop_7", third.pk),
        (str(ada.pk), third.pk),
        ("usr_ada", third.pk),
    }
    # Every customer merged into the chain names the last survivor.
    assert set(Customer.objects.filter(merged_into=third).values_list("pk", flat=True)) == {
        ada.pk,
        twin.pk,
    }
    assert CustomerAlias.survivor_id(organization.pk, external_id="shop_7") == third.pk


# --- Refusals -----------------------------------------------------------------------------


def test_a_customer_of_another_organization_is_not_found(organization, other_organization, ada):
    theirs = CustomerFactory(organization=other_organization)
    with pytest.raises(Customer.DoesNotExist):
        merge(organization, ada, theirs)
    with pytest.raises(Customer.DoesNotExist):
        customer_merge(organization=organization, customer_id=theirs.pk, from_customer_id=ada.pk)
    assert not Customer.objects.get(pk=theirs.pk).is_deleted


def test_a_customer_cannot_be_merged_into_itself(organization, ada):
    with pytest.raises(ValidationError):
        merge(organization, ada, ada)


def test_a_deleted_customer_is_not_found(organization, ada, twin):
    customer_delete(customer=twin)
    with pytest.raises(Customer.DoesNotExist):
        merge(organization, ada, twin)
    with pytest.raises(Customer.DoesNotExist):
        customer_merge(organization=organization, customer_id=twin.pk, from_customer_id=ada.pk)


def test_a_customer_merged_away_is_a_conflict_naming_where_it_went(organization, ada, twin):
    merge(organization, ada, twin)
    third = CustomerFactory(organization=organization)
    with pytest.raises(MergeConflict, match=str(ada.pk)):
        merge(organization, third, twin)
    with pytest.raises(MergeConflict):
        customer_merge(organization=organization, customer_id=twin.pk, from_customer_id=third.pk)


def test_a_customer_changed_since_the_preview_is_a_conflict(organization, ada, twin):
    plan = merge_preview(organization=organization, customer_id=ada.pk, from_customer_id=twin.pk)
    versions = {"customer": plan.survivor.version, "from_customer": plan.merged.version}
    customer_update(customer=twin, name="Changed meanwhile")
    with pytest.raises(MergeConflict, match="changed since the preview"):
        merge(organization, ada, twin, expected_versions=versions)
    assert not Customer.objects.get(pk=twin.pk).is_deleted
    versions["from_customer"] += 1
    merge(organization, ada, twin, expected_versions=versions)


# --- PostgreSQL: figures and races --------------------------------------------------------


@pytest.mark.usefixtures("postgres_only")
def test_the_survivors_figures_count_the_moved_orders(organization, ada, twin, rows):
    Order.objects.filter(customer=twin).update(status="paid")
    merge(organization, ada, twin)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, lifetime_revenue, last_order_at IS NOT NULL, mrr "
            "FROM customers_customer WHERE id = ANY(%s)",
            [[ada.pk, twin.pk]],
        )
        figures = {row[0]: row[1:] for row in cursor.fetchall()}
    paid = sum(
        o.subtotal_amount - o.discount_amount - o.refunded_amount for o in Order.objects.all()
    )
    assert figures[ada.pk][0] == paid and figures[ada.pk][1]
    assert figures[ada.pk][2] == rows["subscription"].amount
    assert figures[twin.pk] == (0, False, 0)


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.django_db(transaction=True)
def test_two_merges_racing_on_one_customer_one_wins_the_other_gets_a_conflict(organization):
    shared = customer_create(organization=organization, email="shared@example.com")
    left = customer_create(organization=organization, email="left@example.com")
    right = customer_create(organization=organization, email="right@example.com")
    OrderFactory.create_batch(5, customer=shared)
    barrier = threading.Barrier(2)
    outcomes = []

    def run(survivor):
        try:
            barrier.wait()
            customer_merge(
                organization=organization, customer_id=survivor.pk, from_customer_id=shared.pk
            )
            outcomes.append(("merged", survivor.pk))
        except MergeConflict as error:
            outcomes.append(("conflict", str(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in (left, right)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["conflict", "merged"]
    winner = next(value for kind, value in outcomes if kind == "merged")
    shared = Customer.objects.get(pk=shared.pk)
    assert shared.merged_into_id == winner
    assert set(Order.objects.values_list("customer_id", flat=True)) == {winner}
    assert CustomerAlias.objects.get(kind="id").customer_id == winner


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_pair_in_opposite_directions_never_deadlock(organization):
    one = customer_create(organization=organization, email="one@example.com")
    two = customer_create(organization=organization, email="two@example.com")
    barrier = threading.Barrier(2)
    outcomes = []

    def run(survivor, merged):
        try:
            barrier.wait()
            customer_merge(
                organization=organization, customer_id=survivor.pk, from_customer_id=merged.pk
            )
            outcomes.append("merged")
        except MergeConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in ((one, two), (two, one))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "merged"]
    assert Customer.objects.for_org(organization).count() == 1


# --- The dashboard ------------------------------------------------------------------------


def test_an_owner_previews_then_merges_from_the_page(client, owner, organization, ada, twin, rows):
    client.force_login(owner)
    url = reverse("customers:merge", args=["acme", ada.pk])
    before = state()
    page = client.get(url, {"from": twin.pk, "field_name": "from_customer"})
    assert page.status_code == 200
    assert "Merge Ada Lovelace into Ada" in page.text and "Nothing has changed yet" in page.text
    assert state() == before
    response = client.post(
        url,
        {"from": twin.pk, "field_name": "from_customer", "meta_plan": "from_customer",
         "version_customer": ada.version, "version_from_customer": twin.version},
    )  # fmt: skip
    assert response.status_code == 302
    ada = Customer.objects.get(pk=ada.pk)
    assert ada.name == "Ada Lovelace" and ada.metadata["plan"] == "basic"
    assert Customer.objects.get(pk=twin.pk).merged_into_id == ada.pk


def test_the_page_refuses_a_stale_preview_with_409(client, owner, organization, ada, twin):
    client.force_login(owner)
    url = reverse("customers:merge", args=["acme", ada.pk])
    versions = {"version_customer": ada.version, "version_from_customer": twin.version}
    customer_update(customer=ada, name="Changed")
    response = client.post(url, {"from": twin.pk, **versions})
    assert response.status_code == 409
    assert "changed since the preview" in response.text
    assert not Customer.objects.get(pk=twin.pk).is_deleted


def test_the_page_without_a_choice_offers_the_likely_duplicates(
    client, owner, organization, ada, twin
):
    low, high = sorted([ada, twin], key=lambda c: c.pk)
    DuplicatePair.objects.create(
        organization=organization, customer=low, other=high, reasons=["email"], score=0.95
    )
    client.force_login(owner)
    page = client.get(reverse("customers:merge", args=["acme", ada.pk])).text
    assert f"?from={twin.pk}" in page and "Same email (normalised)" in page


def test_the_page_finds_the_other_customer_by_email_or_external_id(client, owner, ada, twin):
    client.force_login(owner)
    url = reverse("customers:merge", args=["acme", ada.pk])
    for text in ("shop_7", "ADA+shop@example.com", str(twin.pk)):
        assert "Merge Ada Lovelace into Ada" in client.get(url, {"from": text}).text
    assert client.get(url, {"from": "nobody"}).status_code == 404


def test_members_cannot_merge(client, member, ada, twin):
    client.force_login(member)
    url = reverse("customers:merge", args=["acme", ada.pk])
    response = client.post(
        url, {"from": twin.pk, "version_customer": 1, "version_from_customer": 1}
    )
    assert response.status_code == 403
    assert not Customer.objects.get(pk=twin.pk).is_deleted


def test_the_customer_page_links_owners_to_merge(client, owner, member, ada):
    url = reverse("customers:detail", args=["acme", ada.pk])
    merge_url = reverse("customers:merge", args=["acme", ada.pk])
    client.force_login(owner)
    assert merge_url in client.get(url).text
    client.force_login(member)
    assert merge_url not in client.get(url).text

"""Tenancy through the official polar-sdk client: another organization's valid token must
never read, find, change or delete our customers, orders, subscriptions or products.

Each test drives one operation with the outsider's client (`outsider_sdk`), checks the
answer, checks our rows in the database are exactly as they were, and, where it makes
sense, repeats the operation with our own client to prove the target was really there.
"""

import csv
import io

import pytest
from django.forms.models import model_to_dict
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound

from customers.models import Customer
from orders.models import Order, Product, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = (Customer, Order, Subscription, Product)


@pytest.fixture
def world(organization, other_organization):
    """Our organization's data, and the other organization's, with look-alike values."""
    ada = CustomerFactory(
        organization=organization,
        email="ada@example.com",
        name="Ada",
        external_id="ext_ada",
        metadata={"plan": "pro"},
    )
    grace = CustomerFactory(
        organization=organization, email="grace@example.com", external_id="ext_shared"
    )
    lin = CustomerFactory(organization=organization, email="lin@example.com", external_id=None)
    pro = ProductFactory(organization=organization, name="Pro plan", price_amount=2900)
    ebook = ProductFactory(
        organization=organization, name="Pro E-book", price_amount=900, recurring_interval=None
    )
    subscription = SubscriptionFactory(customer=ada, product=pro)
    order = OrderFactory(customer=ada, product=pro, subscription=subscription)
    OrderFactory(customer=grace, product=ebook)

    # Theirs: the same email, external ID, metadata and product name as some of ours.
    theirs = CustomerFactory(
        organization=other_organization,
        email="grace@example.com",
        external_id="ext_shared",
        metadata={"plan": "pro"},
    )
    their_product = ProductFactory(organization=other_organization, name="Pro plan")
    their_subscription = SubscriptionFactory(customer=theirs, product=their_product)
    their_order = OrderFactory(customer=theirs, product=their_product)
    return {
        "ada": ada,
        "grace": grace,
        "lin": lin,
        "pro": pro,
        "ebook": ebook,
        "subscription": subscription,
        "order": order,
        "theirs": theirs,
        "their_product": their_product,
        "their_subscription": their_subscription,
        "their_order": their_order,
    }


def snapshot(organization) -> dict:
    """Every field of every row our organization owns."""
    return {
        model.__name__: sorted(
            repr(sorted((model_to_dict(obj) | _extra(obj)).items()))
            for obj in model.objects.filter(organization=organization)
        )
        for model in MODELS
    }


def _extra(obj) -> dict:
    # model_to_dict leaves out non-editable fields; these matter too.
    return {
        "id": obj.pk,
        "created_at": obj.created_at,
        "modified_at": obj.modified_at,
        **({"version": obj.version} if isinstance(obj, Customer) else {}),
        **({"price_id": obj.price_id} if isinstance(obj, Product) else {}),
    }


def ours(organization) -> set[str]:
    """The IDs of every row our organization owns."""
    return {
        str(pk)
        for model in MODELS
        for pk in model.objects.filter(organization=organization).values_list("pk", flat=True)
    }


def ids(page) -> set[str]:
    return {item.id for item in page.items}


# --- Reads and writes by ID or external ID: not found ------------------------------------

BY_ID = {
    "customers.get": lambda c, w: c.customers.get(str(w["ada"].id)),
    "customers.update": lambda c, w: c.customers.update(str(w["ada"].id), name="Hacked"),
    "customers.update-metadata": lambda c, w: c.customers.update(
        str(w["ada"].id), metadata={"plan": "free"}
    ),
    "customers.update-external-id": lambda c, w: c.customers.update(
        str(w["lin"].id), external_id="stolen"
    ),
    "customers.delete": lambda c, w: c.customers.delete(str(w["ada"].id)),
    "customers.delete-anonymize": lambda c, w: c.customers.delete(str(w["ada"].id), anonymize=True),
    "customers.get_state": lambda c, w: c.customers.get_state(str(w["ada"].id)),
    "customers.get_external": lambda c, w: c.customers.get_external("ext_ada"),
    "customers.update_external": lambda c, w: c.customers.update_external("ext_ada", name="Hacked"),
    "customers.delete_external": lambda c, w: c.customers.delete_external("ext_ada"),
    "customers.delete_external-anonymize": lambda c, w: c.customers.delete_external(
        "ext_ada", anonymize=True
    ),
    "customers.get_state_external": lambda c, w: c.customers.get_state_external("ext_ada"),
    "orders.get": lambda c, w: c.orders.get(str(w["order"].id)),
    "subscriptions.get": lambda c, w: c.subscriptions.get(str(w["subscription"].id)),
    "subscriptions.update-cancel": lambda c, w: c.subscriptions.update(
        str(w["subscription"].id), cancel_at_period_end=True
    ),
    "subscriptions.update-revoke": lambda c, w: c.subscriptions.update(
        str(w["subscription"].id), revoke=True
    ),
    "subscriptions.revoke": lambda c, w: c.subscriptions.revoke(str(w["subscription"].id)),
    "products.get": lambda c, w: c.products.get(str(w["pro"].id)),
    "products.update-rename": lambda c, w: c.products.update(str(w["pro"].id), name="Hacked"),
    "products.update-archive": lambda c, w: c.products.update(str(w["pro"].id), is_archived=True),
    "products.update-price": lambda c, w: c.products.update(
        str(w["pro"].id), prices=[{"amount_type": "fixed", "price_amount": 1}]
    ),
}


@pytest.mark.parametrize("call", BY_ID.values(), ids=BY_ID.keys())
def test_another_organization_gets_not_found(sdk, outsider_sdk, organization, world, call):
    before = snapshot(organization)

    with pytest.raises(ResourceNotFound) as exc_info:
        call(outsider_sdk, world)

    assert exc_info.value.status_code == 404
    assert (exc_info.value.error.error, exc_info.value.error.detail) == (
        "ResourceNotFound",
        "Not found",
    )
    assert snapshot(organization) == before
    call(sdk, world)  # our own token reaches the very same target


# --- Lists and exports: none of our rows ------------------------------------------------

LISTS = {
    "customers.list": lambda c, w: c.customers.list(limit=100),
    "customers.list-email": lambda c, w: c.customers.list(email="ada@example.com"),
    "customers.list-query": lambda c, w: c.customers.list(query="ada"),
    "customers.list-metadata": lambda c, w: c.customers.list(metadata={"plan": "pro"}),
    "customers.list-active": lambda c, w: c.customers.list(active=True),
    "customers.list-inactive": lambda c, w: c.customers.list(active=False),
    "customers.list-our-organization": lambda c, w: c.customers.list(
        organization_id=str(w["ada"].organization_id)
    ),
    "orders.list": lambda c, w: c.orders.list(limit=100),
    "orders.list-customer": lambda c, w: c.orders.list(customer_id=str(w["ada"].id)),
    "orders.list-external-customer": lambda c, w: c.orders.list(external_customer_id="ext_ada"),
    "orders.list-product": lambda c, w: c.orders.list(product_id=str(w["pro"].id)),
    "orders.list-subscription": lambda c, w: c.orders.list(
        subscription_id=str(w["subscription"].id)
    ),
    "orders.list-paid": lambda c, w: c.orders.list(status="paid"),
    "orders.list-our-organization": lambda c, w: c.orders.list(
        organization_id=str(w["ada"].organization_id)
    ),
    "subscriptions.list": lambda c, w: c.subscriptions.list(limit=100),
    "subscriptions.list-customer": lambda c, w: c.subscriptions.list(customer_id=str(w["ada"].id)),
    "subscriptions.list-external-customer": lambda c, w: c.subscriptions.list(
        external_customer_id="ext_ada"
    ),
    "subscriptions.list-product": lambda c, w: c.subscriptions.list(product_id=str(w["pro"].id)),
    "subscriptions.list-active": lambda c, w: c.subscriptions.list(active=True),
    "subscriptions.list-our-organization": lambda c, w: c.subscriptions.list(
        organization_id=str(w["ada"].organization_id)
    ),
    "products.list": lambda c, w: c.products.list(limit=100),
    "products.list-id": lambda c, w: c.products.list(id=[str(w["pro"].id), str(w["ebook"].id)]),
    "products.list-query": lambda c, w: c.products.list(query="pro"),
    "products.list-recurring": lambda c, w: c.products.list(is_recurring=True),
    "products.list-one-time": lambda c, w: c.products.list(is_recurring=False),
    "products.list-our-organization": lambda c, w: c.products.list(
        organization_id=str(w["ada"].organization_id)
    ),
}


@pytest.mark.parametrize("call", LISTS.values(), ids=LISTS.keys())
def test_lists_of_another_organization_hold_none_of_our_rows(
    sdk, outsider_sdk, organization, world, call
):
    before = snapshot(organization)

    theirs = call(outsider_sdk, world)
    ours_seen = call(sdk, world)

    assert ids(theirs).isdisjoint(ours(organization))
    assert theirs.pagination.total_count == len(theirs.items)
    assert ids(ours_seen) & ours(organization)  # the same filter does find our rows for us
    assert snapshot(organization) == before


def test_iter_list_of_another_organization_walks_only_their_customers(outsider_sdk, world):
    walked = {c.id for c in outsider_sdk.customers.iter_list(limit=1)}

    assert walked == {str(world["theirs"].id)}


def test_export_of_another_organization_holds_none_of_our_customers(outsider_sdk, world):
    rows = list(csv.DictReader(io.StringIO(outsider_sdk.customers.export())))

    assert [row["id"] for row in rows] == [str(world["theirs"].id)]
    assert "ada@example.com" not in outsider_sdk.customers.export()


def test_export_filtered_on_our_organization_is_empty_for_another(outsider_sdk, world):
    text = outsider_sdk.customers.export(organization_id=str(world["ada"].organization_id))

    assert len(list(csv.reader(io.StringIO(text)))) == 1  # the header only


# --- Look-alike values: each organization reaches its own row ----------------------------


def test_a_shared_external_id_reaches_each_organizations_own_customer(sdk, outsider_sdk, world):
    assert outsider_sdk.customers.get_external("ext_shared").id == str(world["theirs"].id)
    assert sdk.customers.get_external("ext_shared").id == str(world["grace"].id)
    state = outsider_sdk.customers.get_state_external("ext_shared")
    assert [s.id for s in state.active_subscriptions] == [str(world["their_subscription"].id)]


def test_updating_and_deleting_a_shared_external_id_touches_only_their_customer(
    sdk, outsider_sdk, organization, world
):
    before = snapshot(organization)

    updated = outsider_sdk.customers.update_external("ext_shared", name="Theirs renamed")
    outsider_sdk.customers.delete_external("ext_shared")

    assert updated.id == str(world["theirs"].id)
    assert Customer.objects.get(pk=world["theirs"].pk).deleted_at is not None
    assert snapshot(organization) == before
    assert sdk.customers.get_external("ext_shared").id == str(world["grace"].id)


def test_another_organization_may_reuse_our_email_and_external_id(
    outsider_sdk, organization, other_organization, world
):
    before = snapshot(organization)

    created = outsider_sdk.customers.create(email="Ada@Example.com", external_id="ext_ada")

    assert created.organization_id == str(other_organization.id)
    assert Customer.objects.get(pk=created.id).organization == other_organization
    assert snapshot(organization) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda c, org_id: c.customers.create(email="new@example.com", organization_id=org_id),
        lambda c, org_id: c.products.create(
            name="Planted",
            organization_id=org_id,
            prices=[{"amount_type": "fixed", "price_amount": 100}],
        ),
    ],
    ids=["customers.create", "products.create"],
)
def test_another_organization_cannot_create_in_ours(outsider_sdk, organization, world, call):
    before = snapshot(organization)

    with pytest.raises(HTTPValidationError) as exc_info:
        call(outsider_sdk, str(organization.id))

    assert [list(d.loc) for d in exc_info.value.error.detail] == [["body", "organization_id"]]
    assert snapshot(organization) == before


def test_a_subscription_of_another_organization_is_not_in_our_customers_state(
    sdk, outsider_sdk, world
):
    state = outsider_sdk.customers.get_state(str(world["theirs"].id))

    assert [s.id for s in state.active_subscriptions] == [str(world["their_subscription"].id)]
    assert [s.id for s in sdk.customers.get_state(str(world["ada"].id)).active_subscriptions] == [
        str(world["subscription"].id)
    ]

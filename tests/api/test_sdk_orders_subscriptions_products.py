"""Orders, subscriptions and products through the official polar-sdk client.

Every test talks HTTP to a live server, so the data the factories write must be committed:
hence the transactional database access.
"""

import contextlib
import json
from datetime import datetime, timedelta

import httpx
import pytest
from django.utils import timezone
from polar.base import PolarClientError, PolarError
from polar.v2026_10 import Polar
from polar.v2026_10.errors import (
    AlreadyCanceledSubscription,
    HTTPValidationError,
    ResourceNotFound,
    SubscriptionsUpdate403Error,
    SubscriptionsUpdate409Error,
)

from orders.models import Product, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_ID = "0190d1b0-0000-7000-8000-000000000000"


# --- Helpers ----------------------------------------------------------------------------


@pytest.fixture
def sdk_with(live_server):
    """`sdk_with(token)`: a polar-sdk client with any token (closed after the test)."""
    with contextlib.ExitStack() as stack:
        yield lambda token: stack.enter_context(Polar(token, base_url=live_server.url, timeout=30))


def ids(page) -> list[str]:
    return [item.id for item in page.items]


def id_set(*objects) -> set[str]:
    return {str(o.id) for o in objects}


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def same_moment(value: str, expected: datetime) -> bool:
    """The API's timestamps carry milliseconds (Django's JSON encoder), the database's
    microseconds."""
    return abs(moment(value) - expected) < timedelta(milliseconds=1)


def record_responses(client: Polar) -> list[httpx.Response]:
    """Every HTTP response `client` receives, for when the SDK cannot parse an error."""
    responses: list[httpx.Response] = []
    client._client._client.event_hooks["response"].append(responses.append)
    return responses


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


# --- Orders -----------------------------------------------------------------------------


@pytest.fixture
def shop(organization):
    """Two customers, two products, a subscription and four orders, oldest first."""
    ada = CustomerFactory(organization=organization, email="ada@example.com", external_id="u_ada")
    grace = CustomerFactory(
        organization=organization, email="grace@example.com", external_id="u_grace"
    )
    ebook = ProductFactory(
        organization=organization, name="E-book", price_amount=1500, recurring_interval=None
    )
    pro = ProductFactory(organization=organization, name="Pro", price_amount=2900)
    subscription = SubscriptionFactory(customer=ada, product=pro)
    orders = {
        "ebook_ada": OrderFactory(customer=ada, product=ebook, created_at=ago(days=4)),
        "pro_ada": OrderFactory(
            customer=ada,
            product=pro,
            subscription=subscription,
            billing_reason="subscription_create",
            subtotal_amount=2900,
            discount_amount=500,
            tax_amount=480,
            created_at=ago(days=3),
        ),
        "ebook_grace": OrderFactory(
            customer=grace,
            product=ebook,
            status="refunded",
            refunded_amount=1500,
            created_at=ago(days=2),
        ),
        "pending_grace": OrderFactory(
            customer=grace,
            product=ebook,
            status="pending",
            subtotal_amount=1000,
            created_at=ago(days=1),
        ),
    }
    return {
        "ada": ada,
        "grace": grace,
        "ebook": ebook,
        "pro": pro,
        "subscription": subscription,
        **orders,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (lambda s: {"customer_id": str(s["ada"].id)}, ["ebook_ada", "pro_ada"]),
        (
            lambda s: {"customer_id": [str(s["ada"].id), str(s["grace"].id)]},
            ["ebook_ada", "pro_ada", "ebook_grace", "pending_grace"],
        ),
        (lambda s: {"external_customer_id": "u_grace"}, ["ebook_grace", "pending_grace"]),
        (lambda s: {"external_customer_id": "nobody"}, []),
        (
            lambda s: {"product_id": str(s["ebook"].id)},
            ["ebook_ada", "ebook_grace", "pending_grace"],
        ),
        (lambda s: {"status": "paid"}, ["ebook_ada", "pro_ada"]),
        (lambda s: {"status": ["refunded", "pending"]}, ["ebook_grace", "pending_grace"]),
        (lambda s: {"subscription_id": str(s["subscription"].id)}, ["pro_ada"]),
        (lambda s: {"product_billing_type": "recurring"}, ["pro_ada"]),
        (
            lambda s: {"product_billing_type": "one_time"},
            ["ebook_ada", "ebook_grace", "pending_grace"],
        ),
        (
            lambda s: {"customer_id": str(s["grace"].id), "status": "paid"},
            [],
        ),
    ],
    ids=[
        "customer",
        "two-customers",
        "external-customer",
        "unknown-external-customer",
        "product",
        "paid",
        "two-statuses",
        "subscription",
        "recurring",
        "one-time",
        "customer-and-status",
    ],
)
def test_order_list_filters(sdk, shop, filters, expected):
    found = sdk.orders.list(**filters(shop))

    assert set(ids(found)) == id_set(*(shop[name] for name in expected))
    assert found.pagination.total_count == len(expected)


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        (None, ["pending_grace", "ebook_grace", "pro_ada", "ebook_ada"]),
        (["created_at"], ["ebook_ada", "pro_ada", "ebook_grace", "pending_grace"]),
        (["amount"], ["pending_grace", "ebook_ada", "ebook_grace", "pro_ada"]),
        (["-amount", "created_at"], ["pro_ada", "ebook_ada", "ebook_grace", "pending_grace"]),
    ],
)
def test_order_list_sorting(sdk, shop, sorting, expected):
    kwargs = {} if sorting is None else {"sorting": sorting}

    assert ids(sdk.orders.list(**kwargs)) == [str(shop[name].id) for name in expected]


def test_order_list_pages(sdk, shop):
    first = sdk.orders.list(limit=3, sorting=["created_at"])
    second = sdk.orders.list(limit=3, page=2, sorting=["created_at"])

    assert ids(first) == [str(shop[n].id) for n in ("ebook_ada", "pro_ada", "ebook_grace")]
    assert ids(second) == [str(shop["pending_grace"].id)]
    assert (first.pagination.total_count, first.pagination.max_page) == (4, 2)
    assert sorted(o.id for o in sdk.orders.iter_list(limit=1)) == sorted(
        str(shop[n].id) for n in ("ebook_ada", "pro_ada", "ebook_grace", "pending_grace")
    )


def test_get_order_with_its_customer_product_subscription_and_amounts(sdk, shop):
    order = sdk.orders.get(str(shop["pro_ada"].id))

    assert order.id == str(shop["pro_ada"].id)
    assert (order.status, order.paid) == ("paid", True)
    assert order.billing_reason == "subscription_create"
    assert order.subtotal_amount == 2900
    assert order.discount_amount == 500
    assert order.net_amount == 2400  # subtotal - discount
    assert order.tax_amount == 480
    assert order.total_amount == 2880  # net + tax
    assert order.due_amount == 0
    assert order.refunded_amount == 0
    assert order.currency == "usd"
    assert order.customer_id == order.customer.id == str(shop["ada"].id)
    assert order.customer.email == "ada@example.com"
    assert order.customer.external_id == "u_ada"
    assert order.product_id == order.product.id == str(shop["pro"].id)
    assert (order.product.name, order.product.is_recurring) == ("Pro", True)
    assert order.subscription_id == order.subscription.id == str(shop["subscription"].id)
    assert order.subscription.status == "active"
    assert order.subscription.amount == 2900
    assert [(i.label, i.amount) for i in order.items] == [("Pro", 2900)]
    assert order.items[0].product_price_id == str(shop["pro"].price_id)
    assert same_moment(order.created_at, shop["pro_ada"].created_at)


def test_get_one_time_order(sdk, shop):
    order = sdk.orders.get(str(shop["ebook_ada"].id))

    assert order.subscription_id is None
    assert order.subscription is None
    assert (order.product.name, order.product.is_recurring) == ("E-book", False)
    assert (order.net_amount, order.total_amount) == (1500, 1500)


def test_get_refunded_and_pending_orders(sdk, shop):
    refunded = sdk.orders.get(str(shop["ebook_grace"].id))
    pending = sdk.orders.get(str(shop["pending_grace"].id))

    assert (refunded.status, refunded.paid) == ("refunded", True)
    assert (refunded.refunded_amount, refunded.refundable_amount) == (1500, 0)
    assert (pending.status, pending.paid) == ("pending", False)
    assert pending.due_amount == pending.total_amount == 1000


# --- Subscriptions ----------------------------------------------------------------------


@pytest.fixture
def subs(organization):
    """Subscriptions of two customers to two products, in several statuses."""
    ada = CustomerFactory(organization=organization, email="ada@example.com", external_id="u_ada")
    grace = CustomerFactory(
        organization=organization, email="grace@example.com", external_id="u_grace"
    )
    monthly = ProductFactory(organization=organization, name="Monthly", price_amount=1000)
    yearly = ProductFactory(
        organization=organization, name="Yearly", price_amount=10000, recurring_interval="year"
    )

    def subscribe(customer, product, status, days_ago):
        return SubscriptionFactory(
            customer=customer,
            product=product,
            status=status,
            recurring_interval=product.recurring_interval,
            started_at=ago(days=days_ago),
        )

    return {
        "ada": ada,
        "grace": grace,
        "monthly": monthly,
        "yearly": yearly,
        "ada_active": subscribe(ada, monthly, "active", 5),
        "ada_canceled": subscribe(ada, yearly, "canceled", 50),
        "grace_past_due": subscribe(grace, monthly, "past_due", 4),
        "grace_trialing": subscribe(grace, yearly, "trialing", 3),
        "grace_incomplete": subscribe(grace, monthly, "incomplete", 2),
    }


ALL_SUBS = ["ada_active", "ada_canceled", "grace_past_due", "grace_trialing", "grace_incomplete"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (lambda s: {}, ALL_SUBS),
        (lambda s: {"customer_id": str(s["ada"].id)}, ["ada_active", "ada_canceled"]),
        (
            lambda s: {"external_customer_id": "u_grace"},
            ["grace_past_due", "grace_trialing", "grace_incomplete"],
        ),
        (
            lambda s: {"product_id": str(s["yearly"].id)},
            ["ada_canceled", "grace_trialing"],
        ),
        (lambda s: {"active": True}, ["ada_active", "grace_past_due", "grace_trialing"]),
        (lambda s: {"active": False}, ["ada_canceled", "grace_incomplete"]),
        (lambda s: {"status": "past_due"}, ["grace_past_due"]),
        (lambda s: {"status": ["canceled", "incomplete"]}, ["ada_canceled", "grace_incomplete"]),
        (
            lambda s: {"customer_id": str(s["grace"].id), "active": True},
            ["grace_past_due", "grace_trialing"],
        ),
    ],
    ids=[
        "all",
        "customer",
        "external-customer",
        "product",
        "active",
        "inactive",
        "status",
        "two-statuses",
        "customer-and-active",
    ],
)
def test_subscription_list_filters(sdk, subs, filters, expected):
    found = sdk.subscriptions.list(**filters(subs))

    assert set(ids(found)) == id_set(*(subs[name] for name in expected))
    assert found.pagination.total_count == len(expected)


def test_subscription_list_is_newest_started_first_and_pages(sdk, subs):
    newest_first = ["grace_incomplete", "grace_trialing", "grace_past_due", "ada_active"]

    first = sdk.subscriptions.list(limit=4)
    second = sdk.subscriptions.list(limit=4, page=2)

    assert ids(first) == [str(subs[name].id) for name in newest_first]
    assert ids(second) == [str(subs["ada_canceled"].id)]
    assert first.pagination.max_page == 2


def test_get_subscription(sdk, subs):
    subscription = subs["grace_trialing"]

    got = sdk.subscriptions.get(str(subscription.id))

    assert got.id == str(subscription.id)
    assert got.status == "trialing"
    assert (got.amount, got.currency, got.recurring_interval) == (10000, "usd", "year")
    assert got.cancel_at_period_end is False
    assert got.canceled_at is None
    assert same_moment(got.started_at, subscription.started_at)
    assert same_moment(got.current_period_end, subscription.current_period_end)
    assert got.customer_id == got.customer.id == str(subs["grace"].id)
    assert got.customer.email == "grace@example.com"
    assert got.product_id == got.product.id == str(subs["yearly"].id)
    assert got.product.name == "Yearly"
    assert got.product.prices[0].price_amount == 10000


def test_cancel_at_period_end_then_undo(sdk, subs):
    subscription = subs["ada_active"]

    canceled = sdk.subscriptions.update(
        str(subscription.id),
        cancel_at_period_end=True,
        customer_cancellation_reason="too_expensive",
        customer_cancellation_comment="Cheaper elsewhere.",
    )

    assert canceled.status == "active"  # access goes on until the period ends
    assert canceled.cancel_at_period_end is True
    assert canceled.canceled_at is not None
    assert same_moment(canceled.ends_at, subscription.current_period_end)
    assert canceled.ended_at is None
    assert canceled.customer_cancellation_reason == "too_expensive"
    assert canceled.customer_cancellation_comment == "Cheaper elsewhere."
    stored = Subscription.objects.get(pk=subscription.pk)
    assert (stored.status, stored.cancel_at_period_end) == ("active", True)
    assert sdk.subscriptions.list(cancel_at_period_end=True).items[0].id == str(subscription.id)

    resumed = sdk.subscriptions.update(str(subscription.id), cancel_at_period_end=False)

    assert resumed.status == "active"
    assert resumed.cancel_at_period_end is False
    assert resumed.canceled_at is None
    assert resumed.ends_at is None
    stored.refresh_from_db()
    assert (stored.cancel_at_period_end, stored.canceled_at, stored.ends_at) == (False, None, None)


@pytest.mark.parametrize("how", ["update", "revoke"])
def test_revoking_ends_a_subscription_now(sdk, subs, how):
    subscription = subs["ada_active"]

    if how == "update":
        revoked = sdk.subscriptions.update(str(subscription.id), revoke=True)
    else:
        revoked = sdk.subscriptions.revoke(str(subscription.id))

    assert revoked.status == "canceled"
    assert revoked.cancel_at_period_end is False
    assert revoked.ended_at is not None
    assert revoked.ends_at == revoked.ended_at
    assert revoked.canceled_at is not None
    stored = Subscription.objects.get(pk=subscription.pk)
    assert stored.status == "canceled"
    assert same_moment(revoked.ended_at, stored.ended_at)
    assert str(subscription.id) not in ids(sdk.subscriptions.list(active=True))


def test_revoking_a_subscription_set_to_cancel_at_period_end(sdk, subs):
    subscription = subs["ada_active"]
    sdk.subscriptions.update(str(subscription.id), cancel_at_period_end=True)

    revoked = sdk.subscriptions.revoke(str(subscription.id))

    assert (revoked.status, revoked.cancel_at_period_end) == ("canceled", False)
    assert moment(revoked.ends_at) < subscription.current_period_end


def test_revoking_an_already_canceled_subscription_is_refused(sdk, subs):
    subscription = subs["ada_canceled"]
    before = Subscription.objects.get(pk=subscription.pk)

    with pytest.raises(AlreadyCanceledSubscription) as exc_info:
        sdk.subscriptions.revoke(str(subscription.id))
    assert exc_info.value.status_code == 403
    assert exc_info.value.error.error == "AlreadyCanceledSubscription"

    with pytest.raises(SubscriptionsUpdate403Error) as exc_info:
        sdk.subscriptions.update(str(subscription.id), revoke=True)
    assert exc_info.value.status_code == 403
    assert exc_info.value.error.error == "AlreadyCanceledSubscription"

    after = Subscription.objects.get(pk=subscription.pk)
    assert (after.status, after.ended_at, after.modified_at) == (
        before.status,
        before.ended_at,
        before.modified_at,
    )


def test_revoking_twice_is_refused_the_second_time(sdk, subs):
    subscription = subs["ada_active"]
    sdk.subscriptions.revoke(str(subscription.id))

    with pytest.raises(AlreadyCanceledSubscription):
        sdk.subscriptions.revoke(str(subscription.id))


def test_canceling_an_ended_subscription_is_refused(sdk, subs):
    with pytest.raises(SubscriptionsUpdate403Error) as exc_info:
        sdk.subscriptions.update(str(subs["ada_canceled"].id), cancel_at_period_end=True)

    assert exc_info.value.error.error == "AlreadyCanceledSubscription"
    assert Subscription.objects.get(pk=subs["ada_canceled"].pk).cancel_at_period_end is False


def test_canceling_twice_is_refused_the_second_time(sdk, subs):
    subscription = subs["ada_active"]
    first = sdk.subscriptions.update(str(subscription.id), cancel_at_period_end=True)

    with pytest.raises(SubscriptionsUpdate403Error) as exc_info:
        sdk.subscriptions.update(str(subscription.id), cancel_at_period_end=True)

    assert exc_info.value.error.error == "AlreadyCanceledSubscription"
    stored = Subscription.objects.get(pk=subscription.pk)
    assert same_moment(first.canceled_at, stored.canceled_at)


def test_uncanceling_a_subscription_not_set_to_cancel_is_a_409(sdk, subs):
    subscription = subs["ada_active"]

    with pytest.raises(SubscriptionsUpdate409Error) as exc_info:
        sdk.subscriptions.update(str(subscription.id), cancel_at_period_end=False)

    assert exc_info.value.status_code == 409
    assert exc_info.value.error.error == "SubscriptionNotScheduledToCancel"
    assert exc_info.value.error.detail == "The subscription is not scheduled to cancel."
    stored = Subscription.objects.get(pk=subscription.pk)
    assert (stored.status, stored.cancel_at_period_end) == ("active", False)


def test_an_update_without_an_action_is_a_422(sdk, subs):
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.subscriptions.update(str(subs["ada_active"].id))

    assert exc_info.value.error.detail[0].loc == ["body"]


# --- Products ---------------------------------------------------------------------------


@pytest.fixture
def catalog(organization):
    now = timezone.now()
    return {
        "ebook": ProductFactory(
            organization=organization,
            name="Rust E-book",
            price_amount=1500,
            recurring_interval=None,
            created_at=now - timedelta(days=4),
        ),
        "monthly": ProductFactory(
            organization=organization,
            name="Pro Monthly",
            price_amount=2900,
            created_at=now - timedelta(days=3),
        ),
        "yearly": ProductFactory(
            organization=organization,
            name="Pro Yearly",
            price_amount=29000,
            recurring_interval="year",
            created_at=now - timedelta(days=2),
        ),
        "old": ProductFactory(
            organization=organization,
            name="Legacy plan",
            price_amount=900,
            is_archived=True,
            created_at=now - timedelta(days=1),
        ),
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["old", "yearly", "monthly", "ebook"]),
        ({"is_archived": False}, ["yearly", "monthly", "ebook"]),
        ({"is_archived": True}, ["old"]),
        ({"is_recurring": True}, ["old", "yearly", "monthly"]),
        ({"is_recurring": False}, ["ebook"]),
        ({"query": "pro"}, ["yearly", "monthly"]),
        ({"query": "PRO Y"}, ["yearly"]),
        ({"query": "pro", "is_recurring": True, "is_archived": False}, ["yearly", "monthly"]),
        ({"sorting": ["price_amount"]}, ["old", "ebook", "monthly", "yearly"]),
        ({"sorting": ["name"]}, ["old", "monthly", "yearly", "ebook"]),
    ],
)
def test_product_list_filters_and_sorting(sdk, catalog, filters, expected):
    found = sdk.products.list(**filters)

    assert ids(found) == [str(catalog[name].id) for name in expected]
    assert found.pagination.total_count == len(expected)


def test_product_list_by_id(sdk, catalog):
    found = sdk.products.list(id=[str(catalog["ebook"].id), str(catalog["old"].id)])

    assert set(ids(found)) == id_set(catalog["ebook"], catalog["old"])


def test_get_product(sdk, catalog):
    yearly = catalog["yearly"]

    got = sdk.products.get(str(yearly.id))

    assert (got.id, got.name, got.organization_id) == (
        str(yearly.id),
        "Pro Yearly",
        str(yearly.organization_id),
    )
    assert (got.is_recurring, got.recurring_interval, got.is_archived) == (True, "year", False)
    assert got.is_deletable is True
    [price] = got.prices
    assert (price.id, price.price_amount, price.price_currency) == (
        str(yearly.price_id),
        29000,
        "usd",
    )
    assert price.product_id == str(yearly.id)


def test_a_sold_product_is_not_deletable(sdk, catalog):
    OrderFactory(
        customer=CustomerFactory(organization=catalog["ebook"].organization),
        product=catalog["ebook"],
    )

    assert sdk.products.get(str(catalog["ebook"].id)).is_deletable is False
    assert sdk.products.get(str(catalog["monthly"].id)).is_deletable is True


def test_create_a_one_time_product(sdk, organization):
    created = sdk.products.create(
        name="Sticker pack",
        description="Ten stickers.",
        prices=[{"amount_type": "fixed", "price_amount": 499, "price_currency": "eur"}],
        metadata={"sku": "STK-10", "weight_g": 40, "fragile": False},
    )

    assert (created.name, created.description) == ("Sticker pack", "Ten stickers.")
    assert (created.is_recurring, created.recurring_interval) == (False, None)
    assert created.organization_id == str(organization.id)
    assert created.metadata == {"sku": "STK-10", "weight_g": 40, "fragile": False}
    [price] = created.prices
    assert (price.price_amount, price.price_currency) == (499, "eur")
    stored = Product.objects.get(pk=created.id)
    assert (stored.price_amount, stored.price_currency, stored.recurring_interval) == (
        499,
        "eur",
        None,
    )
    assert str(stored.price_id) == price.id
    assert sdk.products.get(created.id).prices[0].price_amount == 499


@pytest.mark.parametrize("interval", ["month", "year"])
def test_create_a_recurring_product(sdk, interval):
    created = sdk.products.create(
        name=f"Pro ({interval})",
        recurring_interval=interval,
        prices=[{"amount_type": "fixed", "price_amount": 2900}],
    )

    assert (created.is_recurring, created.recurring_interval) == (True, interval)
    assert created.recurring_interval_count == 1
    assert created.prices[0].price_amount == 2900
    assert created.prices[0].price_currency == "usd"
    assert sdk.products.list(is_recurring=True).items[0].id == created.id
    assert Product.objects.get(pk=created.id).recurring_interval == interval


def test_create_product_refuses_bad_input(sdk):
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.products.create(name="", prices=[{"amount_type": "fixed", "price_amount": -1}])

    locations = {tuple(d.loc) for d in exc_info.value.error.detail}
    assert ("body", "name") in locations
    assert ("body", "prices", 0, "price_amount") in locations
    assert not Product.objects.exists()


def test_rename_a_product(sdk, catalog):
    monthly = catalog["monthly"]

    renamed = sdk.products.update(str(monthly.id), name="Pro", description="Everything.")

    assert (renamed.name, renamed.description) == ("Pro", "Everything.")
    assert renamed.prices[0].id == str(monthly.price_id)  # the price is unchanged
    assert renamed.prices[0].price_amount == 2900
    monthly.refresh_from_db()
    assert (monthly.name, monthly.description) == ("Pro", "Everything.")


def test_archive_and_unarchive_a_product(sdk, catalog):
    monthly = catalog["monthly"]

    archived = sdk.products.update(str(monthly.id), is_archived=True)

    assert archived.is_archived is True
    assert archived.name == "Pro Monthly"
    assert str(monthly.id) in ids(sdk.products.list(is_archived=True))
    assert str(monthly.id) not in ids(sdk.products.list(is_archived=False))

    restored = sdk.products.update(str(monthly.id), is_archived=False)

    assert restored.is_archived is False
    assert Product.objects.get(pk=monthly.pk).is_archived is False


def test_a_new_price_gets_a_new_price_id(sdk, catalog):
    monthly = catalog["monthly"]
    running = SubscriptionFactory(
        customer=CustomerFactory(organization=monthly.organization), product=monthly
    )

    updated = sdk.products.update(
        str(monthly.id), prices=[{"amount_type": "fixed", "price_amount": 3900}]
    )

    [price] = updated.prices
    assert price.price_amount == 3900
    assert price.id != str(monthly.price_id)
    stored = Product.objects.get(pk=monthly.pk)
    assert (stored.price_amount, str(stored.price_id)) == (3900, price.id)
    assert sdk.subscriptions.get(str(running.id)).amount == 2900  # keeps what it started with


def test_keeping_the_existing_price_keeps_its_id(sdk, catalog):
    monthly = catalog["monthly"]

    updated = sdk.products.update(
        str(monthly.id), name="Pro", prices=[{"id": str(monthly.price_id)}]
    )

    assert updated.prices[0].id == str(monthly.price_id)
    assert updated.prices[0].price_amount == 2900


def test_an_existing_price_of_another_product_is_refused(sdk, catalog):
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.products.update(
            str(catalog["monthly"].id), prices=[{"id": str(catalog["yearly"].price_id)}]
        )

    assert exc_info.value.error.detail[0].loc == ["body", "prices", 0, "id"]


# --- Errors -----------------------------------------------------------------------------


GET_BY_ID = {
    "orders.get": lambda sdk, id: sdk.orders.get(id),
    "subscriptions.get": lambda sdk, id: sdk.subscriptions.get(id),
    "subscriptions.update": lambda sdk, id: sdk.subscriptions.update(id, revoke=True),
    "subscriptions.revoke": lambda sdk, id: sdk.subscriptions.revoke(id),
    "products.get": lambda sdk, id: sdk.products.get(id),
    "products.update": lambda sdk, id: sdk.products.update(id, name="X"),
}


@pytest.mark.parametrize("call", GET_BY_ID.values(), ids=GET_BY_ID.keys())
@pytest.mark.parametrize("missing_id", [MISSING_ID, "not-a-uuid"], ids=["unknown", "malformed"])
def test_a_missing_or_malformed_id_is_not_found(sdk, shop, call, missing_id):
    with pytest.raises(ResourceNotFound) as exc_info:
        call(sdk, missing_id)

    assert exc_info.value.status_code == 404
    assert exc_info.value.error.error == "ResourceNotFound"
    assert exc_info.value.error.detail == "Not found"


LISTS = {
    "orders": lambda sdk: sdk.orders.list(),
    "subscriptions": lambda sdk: sdk.subscriptions.list(),
    "products": lambda sdk: sdk.products.list(),
}


@pytest.mark.parametrize("call", LISTS.values(), ids=LISTS.keys())
def test_a_bad_token_is_a_401(sdk_with, shop, call):
    with pytest.raises(PolarClientError) as exc_info:
        call(sdk_with("polar_oat_not-a-real-token"))

    assert exc_info.value.status_code == 401
    assert json.loads(exc_info.value.error)["error"] == "Unauthorized"


@pytest.mark.parametrize("call", LISTS.values(), ids=LISTS.keys())
def test_a_customers_only_token_cannot_list_the_rest(sdk_with, make_token, organization, call):
    customers_only = sdk_with(make_token(organization, scopes=["customers:read"]))

    with pytest.raises(PolarClientError) as exc_info:
        call(customers_only)

    assert exc_info.value.status_code == 403
    assert json.loads(exc_info.value.error)["error"] == "NotPermitted"


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk, s: sdk.subscriptions.update(str(s.id), cancel_at_period_end=True),
        lambda sdk, s: sdk.subscriptions.update(str(s.id), revoke=True),
        lambda sdk, s: sdk.subscriptions.revoke(str(s.id)),
    ],
    ids=["cancel", "update-revoke", "revoke"],
)
def test_a_read_only_token_cannot_change_a_subscription(
    sdk_with, make_token, organization, subs, call
):
    reader = sdk_with(make_token(organization, scopes=["subscriptions:read"]))
    responses = record_responses(reader)
    subscription = subs["ada_active"]

    assert reader.subscriptions.get(str(subscription.id)).status == "active"
    # The SDK types these operations' 403s as AlreadyCanceledSubscription & co., so it
    # cannot parse NotPermitted: the HTTP answer itself is checked.
    with pytest.raises(PolarError):
        call(reader, subscription)

    assert responses[-1].status_code == 403
    assert responses[-1].json()["error"] == "NotPermitted"
    assert "subscriptions:write" in responses[-1].json()["detail"]
    stored = Subscription.objects.get(pk=subscription.pk)
    assert (stored.status, stored.cancel_at_period_end) == ("active", False)


def test_a_read_only_token_cannot_create_or_update_products(
    sdk_with, make_token, organization, catalog
):
    reader = sdk_with(make_token(organization, scopes=["products:read"]))

    assert reader.products.get(str(catalog["ebook"].id)).name == "Rust E-book"
    with pytest.raises(PolarClientError) as create_error:
        reader.products.create(name="New", prices=[{"amount_type": "fixed", "price_amount": 1}])
    with pytest.raises(PolarClientError) as update_error:
        reader.products.update(str(catalog["ebook"].id), name="Renamed")

    assert (create_error.value.status_code, update_error.value.status_code) == (403, 403)
    assert Product.objects.count() == 4
    assert Product.objects.get(pk=catalog["ebook"].pk).name == "Rust E-book"

"""Customer sessions and the customer portal through the official polar-sdk client, against
a live server: exactly the calls a merchant's backend and a custom portal make."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from polar.base import PolarClientError
from polar.v2026_10 import Polar
from polar.v2026_10.errors import (
    AlreadyCanceledSubscription,
    HTTPValidationError,
    ResourceNotFound,
)

from portal.models import CustomerSession
from portal.services import customer_session_revoke
from tests.portal.helpers import session_token

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_ID = "0190d1b0-0000-7000-8000-000000000000"


def test_a_session_by_external_id_opens_the_portal(sdk, shop, portal_sdk, settings, live_server):
    # polar-sdk 1.0.2 takes the body as keyword arguments (older SDKs took `request={...}`).
    session = sdk.customer_sessions.create(
        external_customer_id="user_42", return_url="https://shop.example/account"
    )
    ada = shop["ada"]
    assert session.customer_id == str(ada.pk)
    assert session.customer.email == "ada@example.com"
    assert session.customer.external_id == "user_42"
    assert session.token.startswith("polar_cst_")
    assert session.return_url == "https://shop.example/account"
    assert session.customer_portal_url == (
        f"{settings.SITE_URL}/portal/acme/?customer_session_token={session.token}"
    )
    lifetime = timezone.datetime.fromisoformat(session.expires_at) - timezone.now()
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)

    portal = portal_sdk(session.token)
    introspected = portal.customer_portal.customer_session.introspect()
    assert introspected.return_url == "https://shop.example/account"
    assert introspected.expires_at == session.expires_at
    assert portal.customer_portal.customers.get().id == str(ada.pk)


def test_a_session_by_customer_id(sdk, shop, portal_sdk):
    grace = shop["grace"]
    session = sdk.customer_sessions.create(customer_id=str(grace.pk))
    assert session.customer_id == str(grace.pk)
    assert session.return_url is None
    me = portal_sdk(session.token).customer_portal.customers.get()
    assert (me.id, me.email, me.name) == (str(grace.pk), "grace@example.com", "Grace")
    assert (
        portal_sdk(session.token).customer_portal.customer_session.introspect().return_url is None
    )


@pytest.mark.parametrize(
    ("who", "field"),
    [
        ("missing", "customer_id"),
        ("otto", "customer_id"),  # another organization's
        ("deleted", "customer_id"),
        ("unknown external", "external_customer_id"),
    ],
)
def test_a_session_for_a_customer_we_do_not_have_is_a_422(sdk, shop, who, field):
    if who == "deleted":
        shop["grace"].deleted_at = timezone.now()
        shop["grace"].save()
    request = {
        "missing": {"customer_id": MISSING_ID},
        "otto": {"customer_id": str(shop["otto"].pk)},
        "deleted": {"customer_id": str(shop["grace"].pk)},
        "unknown external": {"external_customer_id": "nobody"},
    }[who]
    with pytest.raises(HTTPValidationError) as error:
        sdk.customer_sessions.create(**request)
    (detail,) = error.value.error.detail
    assert (detail.loc, detail.msg) == (["body", field], "Customer does not exist.")
    assert CustomerSession.objects.count() == 0


def test_the_customer_reads_and_updates_their_profile(shop, portal_sdk):
    portal = portal_sdk(shop["ada"]).customer_portal
    me = portal.customers.get()
    assert (me.email, me.name, me.billing_address, me.oauth_accounts) == (
        "ada@example.com",
        "Ada",
        None,
        {},
    )
    updated = portal.customers.update(
        name="Ada Lovelace",
        billing_name="Analytical Engines Ltd",
        billing_address={"line1": "12 St James's Sq", "city": "London", "country": "GB"},
        tax_id="GB123456789",
    )
    assert updated.name == "Ada Lovelace"
    assert updated.billing_name == "Analytical Engines Ltd"
    assert (updated.billing_address.city, updated.billing_address.country) == ("London", "GB")
    assert updated.tax_id[0] == "GB123456789"
    shop["ada"].refresh_from_db()
    assert shop["ada"].billing_address_city == "London"
    assert shop["ada"].version == 2


@pytest.mark.parametrize(
    ("field", "value"), [("email", "evil@example.com"), ("external_id", "user_1")]
)
def test_the_email_and_external_id_are_not_the_customers_to_change(shop, portal_sdk, field, value):
    portal = portal_sdk(shop["ada"]).customer_portal
    with pytest.raises(HTTPValidationError) as error:
        portal.customers.update(**{field: value, "name": "Changed"})
    (detail,) = error.value.error.detail
    assert (detail.loc, detail.type) == (["body", field], "extra_forbidden")
    shop["ada"].refresh_from_db()
    assert (shop["ada"].email, shop["ada"].external_id, shop["ada"].name) == (
        "ada@example.com",
        "user_42",
        "Ada",
    )


def test_the_customer_lists_and_gets_their_orders(shop, portal_sdk):
    portal = portal_sdk(shop["ada"]).customer_portal
    page = portal.orders.list()
    assert [o.id for o in page.items] == [str(shop["purchase"].pk), str(shop["renewal"].pk)]
    assert page.pagination.total_count == 2
    renewal = portal.orders.get(str(shop["renewal"].pk))
    assert renewal.subscription_id == str(shop["subscription"].pk)
    assert renewal.subscription.status == "active"
    assert renewal.product.name == "Pro plan"
    assert renewal.product.organization.slug == "acme"
    assert renewal.billing_reason == "subscription_create"
    recurring = portal.orders.list(product_billing_type="recurring")
    assert [o.id for o in recurring.items] == [str(shop["renewal"].pk)]
    by_product = portal.orders.list(product_id=str(shop["book"].pk))
    assert [o.id for o in by_product.items] == [str(shop["purchase"].pk)]
    assert [o.id for o in portal.orders.list(query="handbook").items] == [str(shop["purchase"].pk)]
    assert len(portal.orders.list(query="acme").items) == 2  # the organization's name
    oldest = portal.orders.list(sorting=["created_at"])
    assert [o.id for o in oldest.items] == [str(shop["renewal"].pk), str(shop["purchase"].pk)]


def test_a_paid_order_has_a_receipt_address(shop, portal_sdk, settings):
    portal = portal_sdk(shop["ada"]).customer_portal
    receipt = portal.orders.receipt(str(shop["purchase"].pk))
    assert receipt.url == (f"{settings.SITE_URL}/portal/acme/orders/{shop['purchase'].pk}/receipt")


def test_an_unpaid_order_has_no_receipt(shop, portal_sdk):
    shop["purchase"].status = "pending"
    shop["purchase"].save()
    with pytest.raises(ResourceNotFound):
        portal_sdk(shop["ada"]).customer_portal.orders.receipt(str(shop["purchase"].pk))


def test_the_customer_lists_gets_cancels_and_uncancels_a_subscription(shop, portal_sdk):
    portal = portal_sdk(shop["ada"]).customer_portal
    subscription_id = str(shop["subscription"].pk)
    page = portal.subscriptions.list()
    assert [s.id for s in page.items] == [subscription_id]
    assert portal.subscriptions.list(active=False).items == []
    got = portal.subscriptions.get(subscription_id)
    assert (got.status, got.cancel_at_period_end, got.product.name) == ("active", False, "Pro plan")

    canceled = portal.subscriptions.update(
        subscription_id, cancel_at_period_end=True, cancellation_reason="too_expensive"
    )
    assert canceled.cancel_at_period_end is True
    assert canceled.ends_at == canceled.current_period_end
    assert canceled.customer_cancellation_reason == "too_expensive"
    assert canceled.status == "active"  # until the period ends

    resumed = portal.subscriptions.update(subscription_id, cancel_at_period_end=False)
    assert (resumed.cancel_at_period_end, resumed.canceled_at, resumed.ends_at) == (
        False,
        None,
        None,
    )
    shop["subscription"].refresh_from_db()
    assert shop["subscription"].cancel_at_period_end is False


def test_cancel_is_at_period_end_and_only_once(shop, portal_sdk):
    portal = portal_sdk(shop["ada"]).customer_portal
    subscription_id = str(shop["subscription"].pk)
    canceled = portal.subscriptions.cancel(subscription_id)
    assert (canceled.cancel_at_period_end, canceled.status) == (True, "active")
    with pytest.raises(AlreadyCanceledSubscription):
        portal.subscriptions.cancel(subscription_id)


def test_uncanceling_a_subscription_not_set_to_cancel_is_a_409(shop, portal_sdk):
    portal = portal_sdk(shop["ada"]).customer_portal
    with pytest.raises(PolarClientError) as error:
        portal.subscriptions.update(str(shop["subscription"].pk), cancel_at_period_end=False)
    assert error.value.status_code == 409


@pytest.mark.parametrize("whose", ["grace", "otto"])
def test_another_customers_orders_and_subscriptions_are_404(shop, portal_sdk, whose):
    portal = portal_sdk(shop["ada"]).customer_portal
    order_id = str(shop[f"{whose}_order"].pk)
    subscription_id = str(shop[f"{whose}_subscription"].pk)
    for call in (
        lambda: portal.orders.get(order_id),
        lambda: portal.orders.receipt(order_id),
        lambda: portal.subscriptions.get(subscription_id),
        lambda: portal.subscriptions.cancel(subscription_id),
        lambda: portal.subscriptions.update(subscription_id, cancel_at_period_end=True),
    ):
        with pytest.raises(ResourceNotFound):
            call()
    shop[f"{whose}_subscription"].refresh_from_db()
    assert shop[f"{whose}_subscription"].cancel_at_period_end is False
    assert order_id not in {o.id for o in portal.orders.list(limit=100).items}


def test_a_second_customers_token_gets_404_on_the_firsts_rows(shop, portal_sdk):
    grace = portal_sdk(shop["grace"]).customer_portal
    with pytest.raises(ResourceNotFound):
        grace.orders.get(str(shop["renewal"].pk))
    with pytest.raises(ResourceNotFound):
        grace.subscriptions.get(str(shop["subscription"].pk))
    assert [o.id for o in grace.orders.list().items] == [str(shop["grace_order"].pk)]


def _status(call) -> int:
    with pytest.raises(PolarClientError) as error:
        call()
    return error.value.status_code


def test_an_expired_token_is_a_401(shop, portal_sdk):
    token = session_token(shop["ada"])
    CustomerSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    portal = portal_sdk(token).customer_portal
    assert _status(portal.customers.get) == 401
    assert _status(portal.customer_session.introspect) == 401


def test_a_revoked_token_is_a_401(shop, portal_sdk):
    token = session_token(shop["ada"])
    portal = portal_sdk(token).customer_portal
    assert portal.customers.get().id == str(shop["ada"].pk)
    customer_session_revoke(session=CustomerSession.objects.get())
    assert _status(portal.customers.get) == 401
    assert _status(portal.orders.list) == 401


def test_a_deleted_customers_session_stops_working(shop, portal_sdk, sdk):
    portal = portal_sdk(session_token(shop["ada"])).customer_portal
    sdk.customers.delete_external("user_42")
    assert _status(portal.customers.get) == 401


def test_an_organization_token_does_not_open_the_portal(sdk, shop, token, live_server):
    with Polar(token, base_url=live_server.url, timeout=30) as client:
        assert _status(client.customer_portal.customers.get) == 401
        assert _status(client.customer_portal.orders.list) == 401
        with pytest.raises(PolarClientError) as error:
            client.customer_portal.customer_session.introspect()
    assert json.loads(error.value.error)["error"] == "Unauthorized"


def test_a_customer_token_does_not_open_the_merchant_api(shop, portal_sdk):
    client = portal_sdk(shop["ada"])
    assert _status(lambda: client.customers.list()) == 401
    assert _status(lambda: client.customers.get(id=str(shop["ada"].pk))) == 401
    assert _status(lambda: client.orders.list()) == 401
    assert _status(lambda: client.customer_sessions.create(external_customer_id="user_42")) == 401


def test_a_token_without_the_scope_cannot_open_sessions(
    shop, make_token, organization, live_server
):
    secret = make_token(organization, scopes=["customers:read", "customers:write"])
    with (
        Polar(secret, base_url=live_server.url, timeout=30) as client,
        pytest.raises(PolarClientError) as error,
    ):
        client.customer_sessions.create(external_customer_id="user_42")
    assert error.value.status_code == 403
    assert "customer_sessions:write" in json.loads(error.value.error)["detail"]
    assert CustomerSession.objects.count() == 0

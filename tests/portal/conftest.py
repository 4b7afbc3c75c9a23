import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory
from tests.portal.helpers import portal_client, session_token


@pytest.fixture
def shop(organization, other_organization):
    """Ada with two orders (one for her subscription) and a subscription; Grace, of the
    same organization, and Otto, of another, with one of each."""
    now = timezone.now()
    ada = CustomerFactory(
        organization=organization, email="ada@example.com", name="Ada", external_id="user_42"
    )
    grace = CustomerFactory(organization=organization, email="grace@example.com", name="Grace")
    otto = CustomerFactory(organization=other_organization, email="otto@example.com")
    plan = ProductFactory(organization=organization, name="Pro plan")
    book = ProductFactory(organization=organization, name="Handbook", recurring_interval=None)
    subscription = SubscriptionFactory(customer=ada, product=plan)
    renewal = OrderFactory(
        customer=ada,
        product=plan,
        subscription=subscription,
        status=Order.Status.PAID,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        created_at=now - timedelta(days=2),
    )
    purchase = OrderFactory(
        customer=ada, product=book, status=Order.Status.PAID, created_at=now - timedelta(days=1)
    )
    grace_subscription = SubscriptionFactory(customer=grace, product=plan)
    grace_order = OrderFactory(customer=grace, product=book, status=Order.Status.PAID)
    otto_subscription = SubscriptionFactory(customer=otto)
    otto_order = OrderFactory(customer=otto, status=Order.Status.PAID)
    return {
        "ada": ada,
        "grace": grace,
        "otto": otto,
        "plan": plan,
        "book": book,
        "subscription": subscription,
        "renewal": renewal,
        "purchase": purchase,
        "grace_subscription": grace_subscription,
        "grace_order": grace_order,
        "otto_subscription": otto_subscription,
        "otto_order": otto_order,
    }


@pytest.fixture
def ada_portal(shop):
    """A test client with a session token of Ada's."""
    return portal_client(shop["ada"])


@pytest.fixture
def portal_sdk(live_server):
    """`portal_sdk(customer_or_token)`: polar-sdk with a customer session token."""
    from polar.v2026_10 import Polar

    with contextlib.ExitStack() as stack:

        def make(customer_or_token):
            token = (
                customer_or_token
                if isinstance(customer_or_token, str)
                else session_token(customer_or_token)
            )
            return stack.enter_context(Polar(token, base_url=live_server.url, timeout=30))

        yield make

"""The order page and the subscription page (issue 14, "no dead ends"): who may open them,
what they show, the subscription actions with their in-page confirmation, query counts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.services import customer_delete
from orders.models import Order, Subscription
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def product(organization):
    return ProductFactory(organization=organization, name="Pro monthly", price_amount=2900)


@pytest.fixture
def subscription(customer, product):
    return SubscriptionFactory(customer=customer, product=product)


@pytest.fixture
def order(customer, product, subscription):
    return OrderFactory(
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        subtotal_amount=2900,
        discount_amount=500,
        tax_amount=480,
        total_amount=2880,
    )


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


def order_url(order):
    return reverse("orders:order_detail", args=[order.organization.slug, order.pk])


def subscription_url(subscription):
    return reverse(
        "orders:subscription_detail", args=[subscription.organization.slug, subscription.pk]
    )


def action_url(subscription, action):
    return reverse(
        "customers:subscription_action",
        args=[subscription.organization.slug, subscription.customer_id, subscription.pk, action],
    )


def detail_url(customer):
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def stored(subscription):
    subscription.refresh_from_db()
    return subscription


# --- Who may open them --------------------------------------------------------------


@pytest.mark.parametrize("user", ["owner", "member"])
def test_owners_and_members_open_an_order_and_its_subscription(
    client, request, user, order, subscription
):
    client.force_login(request.getfixturevalue(user))
    assert client.get(order_url(order)).status_code == 200
    assert client.get(subscription_url(subscription)).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client, order, subscription):
    for url in (order_url(order), subscription_url(subscription)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")


def test_outsiders_get_404(client, outsider, order, subscription):
    client.force_login(outsider)
    assert client.get(order_url(order)).status_code == 404
    assert client.get(subscription_url(subscription)).status_code == 404


def test_another_organizations_order_is_404_even_under_my_own_slug(
    client, owner, organization, other_organization
):
    theirs = OrderFactory(customer=CustomerFactory(organization=other_organization))
    their_subscription = SubscriptionFactory(customer=theirs.customer)
    client.force_login(owner)
    mine = organization.slug
    assert client.get(reverse("orders:order_detail", args=[mine, theirs.pk])).status_code == 404
    url = reverse("orders:subscription_detail", args=[mine, their_subscription.pk])
    assert client.get(url).status_code == 404


# --- What they show -----------------------------------------------------------------


def test_the_order_page_shows_amounts_reason_status_and_links_its_subscription(
    merchant, order, subscription, customer
):
    page = merchant.get(order_url(order)).text
    for text in ("USD 29.00", "\u2212 USD 5.00", "USD 4.80", "USD 28.80"):
        assert text in page
    assert "Subscription created" in page
    assert "Paid" in page
    assert "Pro monthly" in page
    assert f'href="{subscription_url(subscription)}"' in page
    assert f'href="{detail_url(customer)}"' in page
    assert 'id="order-timeline"' in page
    timeline = reverse("activity:timeline", args=[customer.organization.slug, customer.pk])
    assert f'href="{timeline}?kind=billing"' in page


def test_a_one_time_order_says_it_has_no_subscription(merchant, customer, organization):
    one_time = ProductFactory(organization=organization, recurring_interval=None)
    order = OrderFactory(customer=customer, product=one_time)
    page = merchant.get(order_url(order)).text
    assert "None: a one-time purchase" in page
    assert "Purchase" in page


def test_a_deleted_customers_order_still_opens_without_a_dead_link(merchant, order, customer):
    customer_delete(customer=customer)
    response = merchant.get(order_url(order))
    assert response.status_code == 200
    assert "Deleted" in response.text
    assert f'href="{detail_url(customer)}"' not in response.text


def test_every_order_row_and_subscription_on_the_customer_page_opens_its_page(
    merchant, order, subscription, customer
):
    page = merchant.get(detail_url(customer)).text
    assert f'href="{order_url(order)}"' in page
    assert f'href="{subscription_url(subscription)}"' in page


def test_older_order_rows_of_the_customer_open_their_pages_too(merchant, customer, product):
    orders = OrderFactory.create_batch(12, customer=customer, product=product)
    url = reverse("customers:orders", args=[customer.organization.slug, customer.pk])
    first = merchant.get(detail_url(customer)).context["orders_next_url"]
    page = merchant.get(first).text
    assert url in first
    assert sum(f'href="{order_url(o)}"' in page for o in orders) == 2


def test_the_customer_page_links_the_email_and_offers_copy_buttons(merchant, customer):
    customer.external_id = "crm-42"
    customer.save()
    page = merchant.get(detail_url(customer)).text
    assert 'href="mailto:ada@example.com"' in page
    for value, label in [
        (customer.email, "Copy email"),
        (str(customer.pk), "Copy customer ID"),
        ("crm-42", "Copy external ID"),
    ]:
        # Hidden until app.js finds a clipboard: without JavaScript the value is plain text.
        assert f'data-copy="{value}" aria-label="{label}" hidden' in page


def test_the_subscription_page_shows_its_state_history_and_orders_newest_first(
    merchant, subscription, customer, product
):
    start = timezone.now() - timedelta(days=90)
    first = OrderFactory(
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE,
        created_at=start,
    )
    renewal = OrderFactory(
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
        created_at=start + timedelta(days=30),
    )
    OrderFactory(customer=customer, product=product)  # not of this subscription
    response = merchant.get(subscription_url(subscription))
    page = response.text
    assert [o.pk for o in response.context["orders"].rows] == [renewal.pk, first.pk]
    assert "2 orders, 1 of them renewal;" in page
    assert page.index(order_url(renewal)) < page.index(order_url(first))
    assert "Started" in page and "Renews" in page
    assert "Cancel at period end" in page and "Revoke now" in page


def test_an_ended_subscription_offers_no_actions(merchant, customer):
    ended = SubscriptionFactory(customer=customer, status=Subscription.Status.CANCELED)
    page = merchant.get(subscription_url(ended)).text
    for action in ("cancel", "uncancel", "revoke"):
        assert action_url(ended, action) not in page


def test_a_subscriptions_orders_page_through_with_a_cursor(merchant, subscription):
    make_orders(subscription, 45)
    seen, url = [], subscription_url(subscription)
    response = merchant.get(url)
    seen += response.context["orders"].rows
    url = response.context["orders_next_url"]
    while url:
        response = merchant.get(url, headers=HTMX)
        assert "<html" not in response.text
        seen += response.context["orders"].rows
        url = response.context["orders_next_url"]
    assert len({o.pk for o in seen}) == 45
    assert [o.created_at for o in seen] == sorted((o.created_at for o in seen), reverse=True)
    # Without JavaScript the link opens the page at that point.
    no_js = merchant.get(response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"])
    assert no_js.status_code == 200
    assert "Newest orders" in no_js.text


def test_a_damaged_cursor_is_a_400(merchant, subscription):
    response = merchant.get(subscription_url(subscription), {"cursor": "nonsense"})
    assert response.status_code == 400


# --- Cancel, undo, revoke: each asks in the page first ------------------------------


def test_each_action_asks_in_the_page_before_it_is_sent(merchant, subscription):
    page = merchant.get(subscription_url(subscription)).text
    # A <details> per action: its form (and the button that sends it) shows when opened.
    assert page.count('<details class="confirm">') == 2
    assert "Yes, cancel at period end" in page
    assert "Yes, revoke now" in page
    assert page.count('name="return_to" value="subscription"') == 2


def test_cancel_then_undo_without_javascript_returns_to_the_subscription_page(
    merchant, subscription
):
    response = merchant.post(action_url(subscription, "cancel"), {"return_to": "subscription"})
    assert response.status_code == 302
    assert response.url == subscription_url(subscription)
    assert stored(subscription).cancel_at_period_end is True
    page = merchant.get(response.url).text
    assert "will be canceled at the end of the current period" in page
    assert "Yes, keep it running" in page
    assert "Set to cancel at the end of the period" in page

    response = merchant.post(action_url(subscription, "uncancel"), {"return_to": "subscription"})
    assert response.url == subscription_url(subscription)
    assert stored(subscription).cancel_at_period_end is False
    assert "will renew as usual" in merchant.get(response.url).text


def test_revoke_with_htmx_answers_with_the_status_section(merchant, subscription):
    response = merchant.post(
        action_url(subscription, "revoke"), {"return_to": "subscription"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="subscription-status"' in response.text
    assert "was revoked and has ended" in response.text
    assert "Revoked: ended immediately" in response.text
    assert "Revoke now" not in response.text
    assert stored(subscription).status == Subscription.Status.CANCELED
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]


@pytest.mark.parametrize("htmx", [True, False])
def test_an_invalid_transition_is_shown_as_a_clear_message(merchant, subscription, htmx):
    merchant.post(action_url(subscription, "revoke"), {"return_to": "subscription"})
    response = merchant.post(
        action_url(subscription, "cancel"),
        {"return_to": "subscription"},
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 409
    assert "A canceled subscription cannot be canceled." in response.text
    assert 'role="alert"' in response.text
    assert ("<html" in response.text) is not htmx


def test_the_customer_page_actions_still_answer_on_the_customer_page(merchant, subscription):
    response = merchant.post(action_url(subscription, "cancel"))
    assert response.url == detail_url(subscription.customer)
    response = merchant.post(action_url(subscription, "uncancel"), headers=HTMX)
    assert 'id="subscriptions-panel"' in response.text


def test_an_outsider_cannot_act_on_the_subscription(client, outsider, subscription):
    client.force_login(outsider)
    response = client.post(action_url(subscription, "revoke"), {"return_to": "subscription"})
    assert response.status_code == 404
    assert stored(subscription).status == Subscription.Status.ACTIVE


# --- Query counts -------------------------------------------------------------------


def make_orders(subscription, count):
    start = timezone.now() - timedelta(days=count)
    Order.objects.bulk_create(
        Order(
            organization_id=subscription.organization_id,
            customer_id=subscription.customer_id,
            product_id=subscription.product_id,
            subscription=subscription,
            billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE,
            subtotal_amount=2900,
            total_amount=2900,
            currency="usd",
            created_at=start + timedelta(days=n),
        )
        for n in range(count)
    )


def test_the_order_page_query_count(merchant, order, django_assert_num_queries):
    # session, user, memberships, the order with its product, customer and subscription
    with django_assert_num_queries(4):
        response = merchant.get(order_url(order))
    assert response.status_code == 200


def test_the_subscription_page_query_count_does_not_grow_with_its_orders(
    merchant, subscription, django_assert_num_queries
):
    make_orders(subscription, 1)
    # session, user, memberships, the subscription with its product and customer, a page
    # of its orders, their count (all orders and renewals, one aggregate)
    with django_assert_num_queries(6):
        merchant.get(subscription_url(subscription))
    make_orders(subscription, 999)
    with django_assert_num_queries(6):
        response = merchant.get(subscription_url(subscription))
    assert len(response.context["orders"].rows) == 20
    assert "1000 orders" in response.text
    next_url = response.context["orders_next_url"]
    # Older orders (HTMX): session, user, memberships, the subscription, the next page
    with django_assert_num_queries(5):
        response = merchant.get(next_url, headers=HTMX)
    assert len(response.context["orders"].rows) == 20


def test_an_htmx_action_on_the_subscription_page_reads_no_orders(
    merchant, subscription, django_assert_max_num_queries
):
    make_orders(subscription, 50)
    # The view's own reads: session, user, memberships, the customer, the subscription with
    # its product. The rest is the service's write and what reports it (timeline, webhooks,
    # the customer's state), pinned with the services; the `status` section reads nothing.
    with django_assert_max_num_queries(12) as captured:
        merchant.post(
            action_url(subscription, "cancel"), {"return_to": "subscription"}, headers=HTMX
        )
    assert not any('FROM "orders_order"' in q["sql"] for q in captured.captured_queries)

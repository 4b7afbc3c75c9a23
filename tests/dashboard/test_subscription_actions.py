import pytest
from django.urls import reverse

from orders.models import Subscription
from tests.factories import CustomerFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization)


@pytest.fixture
def subscription(customer):
    product = ProductFactory(organization=customer.organization, name="Pro monthly")
    return SubscriptionFactory(customer=customer, product=product)


def action_url(subscription, action):
    customer = subscription.customer
    return reverse(
        "customers:subscription_action",
        args=[customer.organization.slug, customer.pk, subscription.pk, action],
    )


def detail_url(customer):
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def stored(subscription):
    subscription.refresh_from_db()
    return subscription


def test_the_customer_page_offers_cancel_and_revoke_for_an_ongoing_subscription(
    merchant, subscription
):
    page = merchant.get(detail_url(subscription.customer)).text
    assert action_url(subscription, "cancel") in page
    assert action_url(subscription, "revoke") in page
    assert action_url(subscription, "uncancel") not in page
    assert 'hx-confirm="End Pro monthly now?' in page


def test_an_ended_subscription_offers_no_actions(merchant, customer):
    ended = SubscriptionFactory(customer=customer, status=Subscription.Status.CANCELED)
    page = merchant.get(detail_url(customer)).text
    for action in ("cancel", "uncancel", "revoke"):
        assert action_url(ended, action) not in page


def test_cancelling_sets_cancel_at_period_end_and_redirects_with_a_message(merchant, subscription):
    response = merchant.post(action_url(subscription, "cancel"))
    assert response.status_code == 302
    assert response.url == detail_url(subscription.customer)
    subscription = stored(subscription)
    assert subscription.cancel_at_period_end is True
    assert subscription.ends_at == subscription.current_period_end
    assert subscription.status == Subscription.Status.ACTIVE
    page = merchant.get(response.url).text
    assert "will be canceled at the end of the current period" in page
    assert action_url(subscription, "uncancel") in page
    assert action_url(subscription, "cancel") not in page


def test_undoing_a_cancellation_resumes_the_subscription(merchant, subscription):
    merchant.post(action_url(subscription, "cancel"))
    response = merchant.post(action_url(subscription, "uncancel"))
    assert response.status_code == 302
    subscription = stored(subscription)
    assert subscription.cancel_at_period_end is False
    assert subscription.canceled_at is None
    assert subscription.ends_at is None


def test_revoking_ends_the_subscription_now(merchant, subscription):
    response = merchant.post(action_url(subscription, "revoke"))
    assert response.status_code == 302
    subscription = stored(subscription)
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.ended_at is not None


def test_an_invalid_transition_is_a_409_with_the_reason_and_changes_nothing(merchant, customer):
    ended = SubscriptionFactory(customer=customer, status=Subscription.Status.CANCELED)
    before = stored(ended).modified_at

    response = merchant.post(action_url(ended, "revoke"))
    assert response.status_code == 409
    assert "A canceled subscription cannot be revoked." in response.text
    assert '<section id="subscriptions-panel"' in response.text

    htmx = merchant.post(action_url(ended, "revoke"), headers=HTMX)
    assert htmx.status_code == 409
    assert htmx.text.strip().startswith('<section id="subscriptions-panel"')
    assert "A canceled subscription cannot be revoked." in htmx.text

    ended = stored(ended)
    assert (ended.status, ended.ended_at, ended.modified_at) == ("canceled", None, before)


def test_undoing_without_a_pending_cancellation_is_a_409(merchant, subscription):
    response = merchant.post(action_url(subscription, "uncancel"), headers=HTMX)
    assert response.status_code == 409
    assert "Only a subscription set to cancel at period end can resume." in response.text


def test_over_htmx_only_the_subscriptions_section_comes_back(merchant, subscription):
    response = merchant.post(action_url(subscription, "cancel"), headers=HTMX)
    assert response.status_code == 200
    assert response.text.strip().startswith('<section id="subscriptions-panel"')
    assert response.text.strip().endswith("</section>")
    assert "<html" not in response.text
    assert "will be canceled at the end of the current period" in response.text
    assert action_url(subscription, "uncancel") in response.text
    assert "HX-Request" in response["Vary"]
    assert stored(subscription).cancel_at_period_end is True


def test_a_subscription_of_another_customer_is_404(merchant, organization, subscription):
    someone_else = CustomerFactory(organization=organization)
    url = reverse(
        "customers:subscription_action",
        args=[organization.slug, someone_else.pk, subscription.pk, "revoke"],
    )
    assert merchant.post(url).status_code == 404
    assert stored(subscription).status == Subscription.Status.ACTIVE


def test_an_unknown_action_is_404(merchant, subscription):
    assert merchant.post(action_url(subscription, "pause")).status_code == 404
    assert stored(subscription).status == Subscription.Status.ACTIVE


def test_the_actions_refuse_get(merchant, subscription):
    assert merchant.get(action_url(subscription, "revoke")).status_code == 405
    assert stored(subscription).status == Subscription.Status.ACTIVE

"""Access helpers for orders and subscriptions: one of the membership's organization, or
404 (organizations/access.py explains the rule). Each loads what its page shows in the
same query."""

from django.http import Http404

from orders.models import Order, Subscription
from organizations.models import Membership


def get_order_or_404(membership: Membership, order_id) -> Order:
    """The order with its product, customer and subscription (a deleted customer's
    orders stay, so they still open)."""
    orders = Order.objects.for_org(membership.organization).select_related(
        "product", "customer", "subscription"
    )
    try:
        return orders.get(pk=order_id)
    except (Order.DoesNotExist, ValueError):
        raise Http404("No such order.") from None


def get_subscription_or_404(membership: Membership, subscription_id) -> Subscription:
    """The subscription with its product and customer."""
    subscriptions = Subscription.objects.for_org(membership.organization).select_related(
        "product", "customer"
    )
    try:
        return subscriptions.get(pk=subscription_id)
    except (Subscription.DoesNotExist, ValueError):
        raise Http404("No such subscription.") from None

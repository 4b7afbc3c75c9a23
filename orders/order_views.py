"""The page of one order and the page of one subscription, so that no order row or
subscription on the dashboard is a dead end.

Thin views: load through an access helper (orders/access.py), read, render. The
subscription page's cancel / undo / revoke go through the one subscription action the
customer page uses too (customers/subscription_views.py), which answers with this page's
`status` partial when the form says it came from here.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from core.paging import InvalidCursor, Page, keyset_page
from core.views import bad_request
from orders.access import get_order_or_404, get_subscription_or_404
from orders.models import Order, Subscription
from organizations.access import get_membership_or_404
from organizations.models import Membership

ORDER_TEMPLATE = "orders/order_detail.html"
SUBSCRIPTION_TEMPLATE = "orders/subscription_detail.html"
SUBSCRIPTION_ORDERS_PAGE_SIZE = 20


@login_required
@require_GET
def order_detail(request: HttpRequest, org_slug: str, order_id) -> HttpResponse:
    """One order: product, amounts, billing reason, status, its customer and subscription."""
    membership = get_membership_or_404(request, org_slug)
    order = get_order_or_404(membership, order_id)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "order": order,
        "customer": order.customer,
        "subscription": order.subscription,
    }
    return render(request, ORDER_TEMPLATE, context)


@login_required
@require_GET
def subscription_detail(request: HttpRequest, org_slug: str, subscription_id) -> HttpResponse:
    """One subscription: its state and history, its orders (newest first, a page at a time;
    an HTMX "Older orders" gets just the rows) and the actions on it."""
    membership = get_membership_or_404(request, org_slug)
    subscription = get_subscription_or_404(membership, subscription_id)
    cursor = request.GET.get("cursor")
    try:
        orders = subscription_orders_page(subscription, cursor)
    except InvalidCursor as error:
        return bad_request(str(error))
    if request.htmx and cursor:
        context = {
            "organization": membership.organization,
            "subscription": subscription,
            "orders": orders,
            "orders_next_url": _orders_next_url(membership, subscription, orders),
        }
        response = render(request, f"{SUBSCRIPTION_TEMPLATE}#order_rows", context)
    else:
        context = subscription_context(membership, subscription, orders=orders)
        context["is_first_page"] = not cursor
        response = render(request, SUBSCRIPTION_TEMPLATE, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def subscription_context(
    membership: Membership, subscription: Subscription, *, orders: Page | None = None
) -> dict:
    """Everything the subscription page shows; also for the subscription action's answer
    (customers/subscription_views.py)."""
    if orders is None:
        orders = subscription_orders_page(subscription, None)
    # One query for the figures over all of its orders, however many.
    tally = Order.objects.filter(subscription=subscription).aggregate(
        orders=Count("id"),
        renewals=Count("id", filter=Q(billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE)),
    )
    return {
        **status_context(membership, subscription),
        "orders": orders,
        "orders_next_url": _orders_next_url(membership, subscription, orders),
        "order_count": tally["orders"],
        "renewal_count": tally["renewals"],
        "is_first_page": True,
    }


def status_context(membership: Membership, subscription: Subscription) -> dict:
    """What the page's `status` partial shows (state, history, actions): no query."""
    return {
        "membership": membership,
        "organization": membership.organization,
        "subscription": subscription,
        "customer": subscription.customer,
        "history": subscription_history(subscription),
    }


def subscription_orders_page(subscription: Subscription, cursor: str | None) -> Page:
    """A page of the subscription's orders, newest first (no per-row query: the page
    names the product once, from the subscription)."""
    return keyset_page(
        Order.objects.filter(subscription=subscription),
        field="created_at",
        descending=True,
        cursor=cursor,
        limit=SUBSCRIPTION_ORDERS_PAGE_SIZE,
    )


def _orders_next_url(membership, subscription, orders: Page) -> str | None:
    if not orders.next_cursor:
        return None
    url = reverse(
        "orders:subscription_detail", args=[membership.organization.slug, subscription.pk]
    )
    return f"{url}?{urlencode({'cursor': orders.next_cursor})}"


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    label: str
    upcoming: bool = False


def subscription_history(subscription: Subscription) -> list[HistoryItem]:
    """What the subscription's own fields tell of its story, oldest first, with what
    happens next (renewal or end) last. The timeline holds every change in full; this
    needs no query."""
    s = subscription
    items = []
    if s.started_at:
        items.append(HistoryItem(s.started_at, "Started"))
    if s.past_due_at:
        items.append(HistoryItem(s.past_due_at, "A renewal was declined: past due"))
    revoked = s.status == Subscription.Status.CANCELED and s.ended_at == s.canceled_at
    if s.canceled_at and not revoked:
        items.append(HistoryItem(s.canceled_at, "Set to cancel at the end of the period"))
    if s.ended_at:
        if revoked:
            label = "Revoked: ended immediately"
        elif s.status == Subscription.Status.UNPAID:
            label = "Ended unpaid after declined renewals"
        else:
            label = "Ended at the end of the period"
        items.append(HistoryItem(s.ended_at, label))
    elif s.is_ongoing:
        if s.cancel_at_period_end:
            items.append(HistoryItem(s.ends_at or s.current_period_end, "Ends", upcoming=True))
        elif s.next_attempt_at:
            items.append(HistoryItem(s.next_attempt_at, "Renewal retried", upcoming=True))
        else:
            items.append(HistoryItem(s.current_period_end, "Renews", upcoming=True))
    return sorted(items, key=lambda item: (item.upcoming, item.at))

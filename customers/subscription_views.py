"""Subscription actions on the dashboard: cancel at period end, undo, revoke now; the one
way to do them, from the customer page and from the subscription's own page (the form
sends `return_to=subscription`). Any member of the organization may.

With HTMX the response is the page's section (the customer page's `subscriptions`, the
subscription page's `status`); without JavaScript the action redirects back to the page
it came from with a message. A refused change (the subscription's state does not allow
it) answers 409 with the reason in that section.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from customers.access import get_customer_or_404
from customers.models import Customer
from customers.views import detail_context
from orders import services
from orders.models import InvalidTransition, Subscription
from orders.order_views import SUBSCRIPTION_TEMPLATE, status_context, subscription_context
from organizations.models import Membership

TEMPLATE = "customers/customer_detail.html"

# action in the URL -> (service, what the merchant is told once it is done)
ACTIONS: dict[str, tuple[Callable[..., Subscription], str]] = {
    "cancel": (
        services.subscription_cancel,
        "“{product}” will be canceled at the end of the current period.",
    ),
    "uncancel": (services.subscription_uncancel, "“{product}” will renew as usual."),
    "revoke": (services.subscription_revoke, "“{product}” was revoked and has ended."),
}


@login_required
@require_POST
def subscription_action(
    request: HttpRequest, org_slug: str, customer_id, subscription_id, action: str
) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    subscription = _get_subscription_or_404(customer, subscription_id)
    service, done = ACTIONS[action]
    respond = (
        _subscription_page_response
        if request.POST.get("return_to") == "subscription"
        else _subscriptions_response
    )
    try:
        service(subscription=subscription)
    except InvalidTransition as error:
        return respond(request, membership, customer, subscription, error=str(error))
    notice = done.format(product=subscription.product.name)
    if request.htmx:
        return respond(request, membership, customer, subscription, notice=notice)
    messages.success(request, notice)
    if respond is _subscription_page_response:
        response = redirect("orders:subscription_detail", org_slug, subscription.pk)
    else:
        response = redirect("customers:detail", org_slug, customer.pk)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _get_subscription_or_404(customer: Customer, subscription_id) -> Subscription:
    # Only this customer's subscriptions: another customer's (even in the same
    # organization) is missing here.
    try:
        return customer.subscriptions.select_related("product").get(pk=subscription_id)
    except Subscription.DoesNotExist:
        raise Http404("No such subscription.") from None


def _subscriptions_response(
    request: HttpRequest,
    membership: Membership,
    customer: Customer,
    subscription: Subscription,
    *,
    error: str | None = None,
    notice: str | None = None,
) -> HttpResponse:
    """The subscriptions section for HTMX; the whole customer page otherwise (a refused
    change without JavaScript shows its reason in place, with the 409)."""
    if request.htmx:
        context = {
            "membership": membership,
            "organization": membership.organization,
            "customer": customer,
            "subscriptions": customer.subscriptions.newest(),
        }
        template = f"{TEMPLATE}#subscriptions"
    else:
        context = detail_context(request, membership, customer)
        template = TEMPLATE
    context |= {"subscriptions_error": error, "subscriptions_notice": notice}
    response = render(request, template, context, status=409 if error else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _subscription_page_response(
    request: HttpRequest,
    membership: Membership,
    customer: Customer,
    subscription: Subscription,
    *,
    error: str | None = None,
    notice: str | None = None,
) -> HttpResponse:
    """The subscription page's `status` section for HTMX; the whole page otherwise."""
    subscription.customer = customer
    if request.htmx:
        context = status_context(membership, subscription)
        template = f"{SUBSCRIPTION_TEMPLATE}#status"
    else:
        context = subscription_context(membership, subscription)
        template = SUBSCRIPTION_TEMPLATE
    context |= {"status_error": error, "status_notice": notice}
    response = render(request, template, context, status=409 if error else 200)
    patch_vary_headers(response, ["HX-Request"])
    return response

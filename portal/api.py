"""`/v1/customer-sessions/` (the merchant opens a session for a customer) and
`/v1/customer-portal/...` (the customer, with that session's token), in Polar's shapes.

Every portal read is scoped to the session's customer, so another customer's (or another
organization's) order or subscription is a 404 like an ID nobody has. Every write goes
through the apps' services acting as the customer, from the portal, so the timeline and
the webhooks see it as they see every change.
"""

from typing import Literal
from uuid import UUID

from django.db.models import F
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from core.api import (
    ERRORS,
    ApiError,
    ErrorOut,
    SearchText,
    get_or_404,
    json_response,
    paginate,
    sort_enum,
    sort_order,
    validation_error,
)
from core.prepared import AnyOf, PreparedList
from customers import services as customer_services
from customers.models import Customer
from customers.schemas import profile_changes
from orders import services as order_services
from orders.models import InvalidTransition, Order, Subscription
from orders.querysets import ORDER_ROW_COLUMNS, OrderRows
from organizations.api_auth import scopes
from portal import services
from portal.auth import CustomerSessionAuth
from portal.schemas import (
    CustomerCustomerSessionOut,
    CustomerOrderList,
    CustomerOrderOut,
    CustomerOrderReceiptOut,
    CustomerPortalCustomerOut,
    CustomerPortalCustomerUpdateIn,
    CustomerSessionCreateIn,
    CustomerSessionOut,
    CustomerSubscriptionList,
    CustomerSubscriptionOut,
    CustomerSubscriptionUpdateIn,
    customer_session_out,
    organization_out,
    portal_customer_out,
    portal_order_out,
    portal_subscription_out,
)

sessions_router = Router(tags=["customer-sessions"])
# Mounted at /v1/customer-portal/; only a customer session token opens it.
portal_router = Router(tags=["customer_portal"], auth=CustomerSessionAuth())

MAX_LIMIT = 100


# --- Customer sessions ------------------------------------------------------------------


@sessions_router.post(
    "/",
    response={201: CustomerSessionOut, **ERRORS},
    summary="Create a customer session",
    auth=scopes("customer_sessions:write"),
)
def create_customer_session(request: HttpRequest, payload: CustomerSessionCreateIn):
    """A session for one of your customers, named by our `customer_id` or your
    `external_customer_id`: its `token` opens the customer portal API (`Authorization:
    Bearer polar_cst_...`) and its `customer_portal_url` the hosted portal. It lasts
    `CUSTOMER_SESSION_TTL_SECONDS` (an hour by default). The token is shown only here.

    **Scopes**: `customer_sessions:write`
    """
    customers = Customer.objects.for_org(request.organization)
    if payload.customer_id is not None and payload.external_customer_id is None:
        customer = customers.filter(pk=payload.customer_id).first()
        field, value = "customer_id", str(payload.customer_id)
    elif payload.external_customer_id is not None and payload.customer_id is None:
        customer = customers.filter(external_id=payload.external_customer_id).first()
        field, value = "external_customer_id", payload.external_customer_id
    else:
        raise validation_error(["body"], "Send either customer_id or external_customer_id.")
    if customer is None:  # missing, deleted or another organization's: alike
        raise validation_error(["body", field], "Customer does not exist.", value)
    session, token = services.customer_session_create(
        customer=customer, return_url=payload.return_url
    )
    session.organization = request.organization
    data = customer_session_out(
        session, token=token, portal_url=services.customer_portal_url(session, token)
    )
    response = json_response(data, status=201)
    # Streamed, so the Idempotency-Key middleware never stores this body (it keeps only
    # whole ones): the token must not rest anywhere in clear. A retry opens a new session.
    return StreamingHttpResponse(
        [response.content], status=201, content_type=response["Content-Type"]
    )


# --- The portal: the session and the customer -------------------------------------------


def _as_customer(request: HttpRequest):
    """Act as the session's customer, from the portal, for the block's changes."""
    return services.acting_as_customer(request.customer)


# The organization's portal settings (Settings → Customer portal) say which changes its
# customers may make; the hosted pages refuse the same ones.
CANCEL_NOT_PERMITTED = "This organization does not let customers cancel subscriptions here."
BILLING_NOT_PERMITTED = "This organization does not let customers update billing details here."


def _require_cancel_allowed(request: HttpRequest) -> None:
    if not request.organization.portal_allow_subscription_cancel:
        raise ApiError(403, "NotPermitted", CANCEL_NOT_PERMITTED)


def _require_billing_allowed(request: HttpRequest) -> None:
    if not request.organization.portal_allow_billing_update:
        raise ApiError(403, "NotPermitted", BILLING_NOT_PERMITTED)


@portal_router.get(
    "/customer-session/introspect",
    response={200: CustomerCustomerSessionOut, **ERRORS},
    summary="Introspect the customer session",
)
def introspect_customer_session(request: HttpRequest):
    """When the session expires and where the portal's back button leads (the session's
    return URL, else the organization's default)."""
    session = request.customer_session
    return_url = session.return_url or request.organization.portal_return_url
    return {"expires_at": session.expires_at, "return_url": return_url or None}


@portal_router.get(
    "/customers/me",
    response={200: CustomerPortalCustomerOut, **ERRORS},
    summary="Get the authenticated customer",
)
def get_portal_customer(request: HttpRequest):
    return json_response(portal_customer_out(request.customer))


@portal_router.patch(
    "/customers/me",
    response={200: CustomerPortalCustomerOut, **ERRORS},
    summary="Update the authenticated customer",
)
def update_portal_customer(request: HttpRequest, payload: CustomerPortalCustomerUpdateIn):
    """The fields sent change: name, billing name, billing address, tax ID. The email and
    the external ID are not the customer's to change (a 422). A 403 when the organization
    does not let customers update billing details."""
    _require_billing_allowed(request)
    data = payload.model_dump(exclude_unset=True, exclude={"default_payment_method_id"})
    changes = profile_changes({k: v for k, v in data.items() if k != "billing_name"})
    if "billing_name" in data:
        changes["billing_name"] = (data["billing_name"] or "").strip()
    customer = request.customer
    key = customer_services.CustomerKey(organization_id=customer.organization_id, id=customer.pk)
    with _as_customer(request):
        customer = customer_services.customer_update(customer=key, **changes)
    return json_response(portal_customer_out(customer))


# --- Orders -----------------------------------------------------------------------------

ORDER_SORTINGS = {
    "created_at": "created_at",
    "amount": "total_amount",
    "net_amount": "net",
    "product": "product__name",
    "subscription": "subscription_id",
}
CustomerOrderSortProperty = sort_enum("CustomerOrderSortProperty", ORDER_SORTINGS)


class PortalListQuery(Schema):
    product_id: list[UUID] | None = None
    query: SearchText | None = Field(None, description="Search by product or organization name.")
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")


class CustomerOrderListQuery(PortalListQuery):
    product_billing_type: list[Literal["one_time", "recurring"]] | None = None
    subscription_id: list[UUID] | None = None
    sorting: list[CustomerOrderSortProperty] = Field(["-created_at"])


def _search_text(request: HttpRequest, query: str | None) -> str | None:
    """Polar's portal search: the product's name or the organization's. The organization is
    the session's, so matching its name matches every row: no search (None)."""
    query = (query or "").strip()
    if not query or query.casefold() in request.organization.name.casefold():
        return None
    return query


def _searched(queryset, request: HttpRequest, query: str | None):
    query = _search_text(request, query)
    return queryset if query is None else queryset.filter(product__name__icontains=query)


def _order_list(p, shape):
    """The orders of one shape of `list_portal_orders` (its values are placeholders): the
    session customer's, in the session's organization; `searched`: see `_search_text`."""
    searched, by_product, by_subscription, billing, ordering = shape
    orders = Order.objects.filter(customer_id=p.customer_id, organization_id=p.organization_id)
    if searched:
        orders = orders.filter(product__name__icontains=p.query)
    if by_product:
        orders = orders.filter(AnyOf(F("product_id"), p.product_id))
    if by_subscription:
        orders = orders.filter(AnyOf(F("subscription_id"), p.subscription_id))
    orders = orders.of_billing_types(billing)
    if any(field.removeprefix("-") == "net" for field in ordering):
        orders = orders.annotate(net=F("subtotal_amount") - F("discount_amount"))
    return orders.order_by(*ordering).values_list(*ORDER_ROW_COLUMNS)


ORDER_LIST = PreparedList(_order_list)


def _orders(request: HttpRequest):
    """The session customer's orders, and only theirs (each with the session's customer as
    its own: not read again)."""
    return request.customer.orders.for_org(request.organization)


def _portal_order_out(request: HttpRequest):
    organization = organization_out(request.organization)
    parts: dict = {}  # the page's products and subscriptions, each built once
    return lambda order: portal_order_out(order, organization, parts)


@portal_router.get(
    "/orders/", response={200: CustomerOrderList, **ERRORS}, summary="List the customer's orders"
)
def list_portal_orders(request: HttpRequest, filters: Query[CustomerOrderListQuery]):
    """Filter by product, subscription or billing type; search by product name."""
    query = _search_text(request, filters.query)
    shape = (
        query is not None,
        bool(filters.product_id),
        bool(filters.subscription_id),
        frozenset(filters.product_billing_type or ()),
        tuple(sort_order(filters.sorting, ORDER_SORTINGS)),
    )
    page = paginate(
        # A page's orders share a product or two and few subscriptions (often none): each is
        # read once by ID rather than joined into, and built again for, every row; the
        # customer is the session's, not read again.
        OrderRows(
            ORDER_LIST,
            shape,
            known=[request.customer],
            organization_id=request.organization.pk,
            customer_id=request.customer.pk,
            query=query,
            product_id=filters.product_id,
            subscription_id=filters.subscription_id,
        ),
        page=filters.page,
        limit=min(filters.limit, MAX_LIMIT),
        serialize=_portal_order_out(request),
    )
    return json_response(page)


@portal_router.get(
    "/orders/{id}", response={200: CustomerOrderOut, **ERRORS}, summary="Get an order"
)
def get_portal_order(request: HttpRequest, id: str):
    order = get_or_404(_orders(request).select_related("product", "subscription"), id)
    return json_response(_portal_order_out(request)(order))


@portal_router.get(
    "/orders/{id}/receipt",
    response={200: CustomerOrderReceiptOut, **ERRORS},
    summary="Get an order's receipt",
)
def get_portal_order_receipt(request: HttpRequest, id: str):
    """The address of the order's receipt (a paid order's; an unpaid one has none)."""
    order = get_or_404(_orders(request).only("pk", "status"), id)
    if not order.paid:
        raise ApiError(404, "ResourceNotFound", "This order is not paid, so it has no receipt.")
    return {"url": services.receipt_url(organization=request.organization, order_id=order.pk)}


# --- Subscriptions ----------------------------------------------------------------------

SUBSCRIPTION_SORTINGS = {
    "started_at": "started_at",
    "amount": "amount",
    "status": "status",
    "organization": "organization_id",
    "product": "product__name",
}
CustomerSubscriptionSortProperty = sort_enum(
    "CustomerSubscriptionSortProperty", SUBSCRIPTION_SORTINGS
)


class CustomerSubscriptionListQuery(PortalListQuery):
    active: bool | None = None
    sorting: list[CustomerSubscriptionSortProperty] = Field(["-started_at"])


def _subscriptions(request: HttpRequest):
    """The session customer's subscriptions, and only theirs."""
    return (
        Subscription.objects.for_org(request.organization)
        .filter(customer=request.customer)
        .select_related("product")
    )


def _portal_subscription_out(request: HttpRequest):
    organization = organization_out(request.organization)
    return lambda subscription: portal_subscription_out(subscription, organization)


@portal_router.get(
    "/subscriptions/",
    response={200: CustomerSubscriptionList, **ERRORS},
    summary="List the customer's subscriptions",
)
def list_portal_subscriptions(request: HttpRequest, filters: Query[CustomerSubscriptionListQuery]):
    """Filter by product or `active` (trialing, active or past due); search by product
    name."""
    subscriptions = _searched(_subscriptions(request), request, filters.query)
    if filters.product_id:
        subscriptions = subscriptions.filter(product_id__in=filters.product_id)
    if filters.active is not None:
        active = Subscription.ACTIVE_STATUSES
        subscriptions = (
            subscriptions.filter(status__in=active)
            if filters.active
            else subscriptions.exclude(status__in=active)
        )
    subscriptions = subscriptions.order_by(*sort_order(filters.sorting, SUBSCRIPTION_SORTINGS))
    page = paginate(
        subscriptions,
        page=filters.page,
        limit=min(filters.limit, MAX_LIMIT),
        serialize=_portal_subscription_out(request),
    )
    return json_response(page)


@portal_router.get(
    "/subscriptions/{id}",
    response={200: CustomerSubscriptionOut, **ERRORS},
    summary="Get a subscription",
)
def get_portal_subscription(request: HttpRequest, id: str):
    subscription = get_or_404(_subscriptions(request), id)
    return json_response(_portal_subscription_out(request)(subscription))


@portal_router.patch(
    "/subscriptions/{id}",
    response={200: CustomerSubscriptionOut, 409: ErrorOut, **ERRORS},
    summary="Update a subscription",
)
def update_portal_subscription(
    request: HttpRequest, id: str, payload: CustomerSubscriptionUpdateIn
):
    """`{"cancel_at_period_end": true}` cancels at the end of the period (access goes on
    until then, with an optional `cancellation_reason` and `cancellation_comment`);
    `false` undoes that. A 403 when the organization does not let customers cancel."""
    subscription = get_or_404(_subscriptions(request), id)
    _require_cancel_allowed(request)
    try:
        with _as_customer(request):
            if payload.cancel_at_period_end is True:
                order_services.subscription_cancel(
                    subscription=subscription,
                    reason=payload.cancellation_reason,
                    comment=payload.cancellation_comment,
                )
            elif payload.cancel_at_period_end is False:
                if not subscription.cancel_at_period_end and subscription.is_ongoing:
                    raise ApiError(
                        409,
                        "SubscriptionNotScheduledToCancel",
                        "The subscription is not scheduled to cancel.",
                    )
                order_services.subscription_uncancel(subscription=subscription)
            else:
                raise validation_error(["body"], 'Send {"cancel_at_period_end": true|false}.')
    except InvalidTransition as error:
        raise ApiError(403, "AlreadyCanceledSubscription", str(error)) from None
    return json_response(_portal_subscription_out(request)(subscription))


@portal_router.delete(
    "/subscriptions/{id}",
    response={200: CustomerSubscriptionOut, **ERRORS},
    summary="Cancel a subscription",
)
def cancel_portal_subscription(request: HttpRequest, id: str):
    """Cancel at the end of the current period, as Polar's portal does (access goes on
    until then); a subscription already canceled is a 403, and so is any when the
    organization does not let customers cancel."""
    subscription = get_or_404(_subscriptions(request), id)
    _require_cancel_allowed(request)
    try:
        with _as_customer(request):
            order_services.subscription_cancel(subscription=subscription)
    except InvalidTransition as error:
        raise ApiError(403, "AlreadyCanceledSubscription", str(error)) from None
    return json_response(_portal_subscription_out(request)(subscription))

"""`/v1/orders/`, `/v1/subscriptions/` and `/v1/products/`, in Polar's shapes."""

from typing import Literal
from uuid import UUID

from django.db.models import F
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from core.api import (
    ERRORS,
    ApiError,
    ErrorOut,
    SearchText,
    check_metadata,
    choices_enum,
    excludes_our_organization,
    get_or_404,
    json_response,
    paginate,
    sort_enum,
    sort_order,
    validation_error,
)
from core.prepared import AnyOf, PreparedList
from orders import services
from orders.models import InvalidTransition, Order, Product, Subscription
from orders.querysets import ORDER_ROW_COLUMNS, OrderRows
from orders.schemas import (
    OrderList,
    OrderOut,
    ProductCreateIn,
    ProductList,
    ProductOut,
    ProductUpdateIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionUpdateIn,
    order_out,
    product_out,
    subscription_out,
)
from organizations.api_auth import scopes

orders_router = Router(tags=["orders"])
subscriptions_router = Router(tags=["subscriptions"])
products_router = Router(tags=["products"])

MAX_LIMIT = 100


class ListQuery(Schema):
    organization_id: list[UUID] | None = None
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")


def _scoped(queryset, request, organization_id):
    queryset = queryset.for_org(request.organization)
    if excludes_our_organization(request, organization_id):
        return queryset.none()
    return queryset


def _filter_customer_and_product(queryset, filters):
    """The filters orders and subscriptions share: our customer ID, the merchant's
    external customer ID (of a live customer), and product."""
    if filters.customer_id:
        queryset = queryset.filter(customer_id__in=filters.customer_id)
    if filters.external_customer_id:
        queryset = queryset.filter(
            customer__external_id__in=filters.external_customer_id,
            customer__deleted_at__isnull=True,
        )
    if filters.product_id:
        queryset = queryset.filter(product_id__in=filters.product_id)
    return queryset


# --- Orders -----------------------------------------------------------------------------

ORDER_SORTINGS = {"created_at": "created_at", "status": "status", "amount": "total_amount"}
OrderSortProperty = sort_enum("OrderSortProperty", ORDER_SORTINGS)
OrderStatus = choices_enum("OrderStatus", Order.Status)
ProductBillingType = Literal["one_time", "recurring"]


class OrderListQuery(ListQuery):
    customer_id: list[UUID] | None = None
    external_customer_id: list[str] | None = None
    product_id: list[UUID] | None = None
    subscription_id: list[UUID] | None = None
    status: list[OrderStatus] | None = None
    product_billing_type: list[ProductBillingType] | None = None
    sorting: list[OrderSortProperty] = Field(["-created_at"])


# The list's filters by a list of values, each `= ANY` one placeholder (core.prepared).
_ORDER_LIST_FILTERS = (
    "customer_id",
    "external_customer_id",
    "product_id",
    "subscription_id",
    "status",
)


def _order_list(p, shape):
    """The orders of one shape of `list_orders`: which filters it has, its billing types
    and ordering (their values are placeholders), always in the token's organization."""
    *present, billing, ordering = shape
    present = dict(zip(_ORDER_LIST_FILTERS, present, strict=True))
    orders = Order.objects.filter(organization_id=p.organization_id)
    if present["customer_id"]:
        orders = orders.filter(AnyOf(F("customer_id"), p.customer_id))
    if present["external_customer_id"]:
        # Of a live customer only, as subscriptions filter it (_filter_customer_and_product).
        orders = orders.filter(
            AnyOf(F("customer__external_id"), p.external_customer_id),
            customer__deleted_at__isnull=True,
        )
    for name in ("product_id", "subscription_id", "status"):
        if present[name]:
            orders = orders.filter(AnyOf(F(name), getattr(p, name)))
    orders = orders.of_billing_types(billing).order_by(*ordering)
    return orders.values_list(*ORDER_ROW_COLUMNS)


ORDER_LIST = PreparedList(_order_list)


def _orders(request):
    return Order.objects.for_org(request.organization).select_related(
        "customer", "product", "subscription"
    )


@orders_router.get(
    "/", response={200: OrderList, **ERRORS}, summary="List orders", auth=scopes("orders:read")
)
def list_orders(request: HttpRequest, filters: Query[OrderListQuery]):
    """Filter by customer (ours or your external ID), product, subscription and status
    (`paid`, `refunded`, ...).

    **Scopes**: `orders:read`
    """
    billing = frozenset(filters.product_billing_type or ())
    shape = (
        *(bool(getattr(filters, name)) for name in _ORDER_LIST_FILTERS),
        billing,
        tuple(sort_order(filters.sorting, ORDER_SORTINGS)),
    )
    orders = OrderRows(
        ORDER_LIST,
        shape,
        empty=excludes_our_organization(request, filters.organization_id),
        organization_id=request.organization.pk,
        **{name: getattr(filters, name) for name in _ORDER_LIST_FILTERS},
    )
    limit = min(filters.limit, MAX_LIMIT)
    parts: dict = {}  # the page's customers, products and subscriptions, each built once
    page = paginate(
        # A page's orders share few customers and products (a customer's orders, one): each
        # is read once by ID, not joined into every row and built again for it.
        orders,
        page=filters.page,
        limit=limit,
        serialize=lambda order: order_out(order, parts),
    )
    return json_response(page)


@orders_router.get(
    "/{id}", response={200: OrderOut, **ERRORS}, summary="Get an order", auth=scopes("orders:read")
)
def get_order(request: HttpRequest, id: str):
    """**Scopes**: `orders:read`"""
    return order_out(get_or_404(_orders(request), id))


# --- Subscriptions ----------------------------------------------------------------------

SUBSCRIPTION_SORTINGS = {
    "started_at": "started_at",
    "created_at": "created_at",
    "status": "status",
    "amount": "amount",
    "current_period_end": "current_period_end",
}
SubscriptionSortProperty = sort_enum("SubscriptionSortProperty", SUBSCRIPTION_SORTINGS)
SubscriptionStatus = choices_enum("SubscriptionStatus", Subscription.Status)


class SubscriptionListQuery(ListQuery):
    customer_id: list[UUID] | None = None
    external_customer_id: list[str] | None = None
    product_id: list[UUID] | None = None
    active: bool | None = None
    status: list[SubscriptionStatus] | None = None
    cancel_at_period_end: bool | None = None
    sorting: list[SubscriptionSortProperty] = Field(["-started_at"])


def _subscriptions(request):
    return Subscription.objects.for_org(request.organization).select_related("customer", "product")


@subscriptions_router.get(
    "/",
    response={200: SubscriptionList, **ERRORS},
    summary="List subscriptions",
    auth=scopes("subscriptions:read", "subscriptions:write"),
)
def list_subscriptions(request: HttpRequest, filters: Query[SubscriptionListQuery]):
    """Filter by customer (ours or your external ID), product, status, or `active`
    (trialing, active or past due).

    **Scopes**: `subscriptions:read` `subscriptions:write`
    """
    subscriptions = _scoped(Subscription.objects, request, filters.organization_id)
    subscriptions = subscriptions.select_related("customer", "product")
    subscriptions = _filter_customer_and_product(subscriptions, filters)
    if filters.active is not None:
        active = subscriptions.model.ACTIVE_STATUSES
        subscriptions = (
            subscriptions.filter(status__in=active)
            if filters.active
            else subscriptions.exclude(status__in=active)
        )
    if filters.status:
        subscriptions = subscriptions.filter(status__in=filters.status)
    if filters.cancel_at_period_end is not None:
        subscriptions = subscriptions.filter(cancel_at_period_end=filters.cancel_at_period_end)
    subscriptions = subscriptions.order_by(*sort_order(filters.sorting, SUBSCRIPTION_SORTINGS))
    return json_response(
        paginate(
            subscriptions,
            page=filters.page,
            limit=min(filters.limit, MAX_LIMIT),
            serialize=subscription_out,
        )
    )


@subscriptions_router.get(
    "/{id}",
    response={200: SubscriptionOut, **ERRORS},
    summary="Get a subscription",
    auth=scopes("subscriptions:read", "subscriptions:write"),
)
def get_subscription(request: HttpRequest, id: str):
    """**Scopes**: `subscriptions:read` `subscriptions:write`"""
    return subscription_out(get_or_404(_subscriptions(request), id))


@subscriptions_router.patch(
    "/{id}",
    response={200: SubscriptionOut, 409: ErrorOut, **ERRORS},
    summary="Update a subscription",
    auth=scopes("subscriptions:write"),
)
def update_subscription(request: HttpRequest, id: str, payload: SubscriptionUpdateIn):
    """`{"cancel_at_period_end": true}` cancels at the end of the period (access goes on
    until then), `false` undoes that; `{"revoke": true}` ends it now.

    **Scopes**: `subscriptions:write`
    """
    subscription = get_or_404(_subscriptions(request), id)
    reason = {
        "reason": payload.customer_cancellation_reason,
        "comment": payload.customer_cancellation_comment,
    }
    try:
        if payload.revoke:
            services.subscription_revoke(subscription=subscription, **reason)
        elif payload.cancel_at_period_end is True:
            services.subscription_cancel(subscription=subscription, **reason)
        elif payload.cancel_at_period_end is False:
            if not subscription.cancel_at_period_end and subscription.is_ongoing:
                raise ApiError(
                    409,
                    "SubscriptionNotScheduledToCancel",
                    "The subscription is not scheduled to cancel.",
                )
            services.subscription_uncancel(subscription=subscription)
        else:
            raise validation_error(
                ["body"], 'Send {"cancel_at_period_end": true|false} or {"revoke": true}.', None
            )
    except InvalidTransition as error:
        raise _already_canceled(error) from None
    return subscription_out(subscription)


@subscriptions_router.delete(
    "/{id}",
    response={200: SubscriptionOut, **ERRORS},
    summary="Revoke a subscription",
    auth=scopes("subscriptions:write"),
)
def revoke_subscription(request: HttpRequest, id: str):
    """End a subscription now.

    **Scopes**: `subscriptions:write`
    """
    subscription = get_or_404(_subscriptions(request), id)
    try:
        services.subscription_revoke(subscription=subscription)
    except InvalidTransition as error:
        raise _already_canceled(error) from None
    return subscription_out(subscription)


def _already_canceled(error: InvalidTransition) -> ApiError:
    return ApiError(403, "AlreadyCanceledSubscription", str(error))


# --- Products ---------------------------------------------------------------------------

PRODUCT_SORTINGS = {"created_at": "created_at", "name": "name", "price_amount": "price_amount"}
ProductSortProperty = sort_enum("ProductSortProperty", PRODUCT_SORTINGS)


class ProductListQuery(ListQuery):
    id: list[UUID] | None = None
    query: SearchText | None = None
    is_archived: bool | None = None
    is_recurring: bool | None = None
    sorting: list[ProductSortProperty] = Field(["-created_at"])


@products_router.get(
    "/",
    response={200: ProductList, **ERRORS},
    summary="List products",
    auth=scopes("products:read", "products:write"),
)
def list_products(request: HttpRequest, filters: Query[ProductListQuery]):
    """**Scopes**: `products:read` `products:write`"""
    products = _scoped(Product.objects, request, filters.organization_id).with_has_orders()
    if filters.id:
        products = products.filter(pk__in=filters.id)
    if filters.query:
        products = products.filter(name__icontains=filters.query.strip())
    if filters.is_archived is not None:
        products = products.filter(is_archived=filters.is_archived)
    if filters.is_recurring is not None:
        products = products.filter(recurring_interval__isnull=not filters.is_recurring)
    products = products.order_by(*sort_order(filters.sorting, PRODUCT_SORTINGS))
    return json_response(
        paginate(
            products, page=filters.page, limit=min(filters.limit, MAX_LIMIT), serialize=product_out
        )
    )


@products_router.post(
    "/",
    response={201: ProductOut, **ERRORS},
    summary="Create a product",
    auth=scopes("products:write"),
)
def create_product(request: HttpRequest, payload: ProductCreateIn):
    """A product with one fixed price: one-time, or recurring monthly or yearly.

    **Scopes**: `products:write`
    """
    if payload.organization_id and payload.organization_id != request.organization.pk:
        raise validation_error(
            ["body", "organization_id"],
            "The access token belongs to another organization.",
            str(payload.organization_id),
        )
    check_metadata(payload.metadata)
    price = payload.prices[0]
    product = services.product_create(
        organization=request.organization,
        name=payload.name,
        description=payload.description or "",
        price_amount=price.price_amount,
        price_currency=price.price_currency,
        recurring_interval=payload.recurring_interval,
        metadata=payload.metadata,
    )
    product.has_orders = False
    return Status(201, product_out(product))


@products_router.get(
    "/{id}",
    response={200: ProductOut, **ERRORS},
    summary="Get a product",
    auth=scopes("products:read", "products:write"),
)
def get_product(request: HttpRequest, id: str):
    """**Scopes**: `products:read` `products:write`"""
    return product_out(
        get_or_404(Product.objects.for_org(request.organization).with_has_orders(), id)
    )


@products_router.patch(
    "/{id}",
    response={200: ProductOut, **ERRORS},
    summary="Update a product",
    auth=scopes("products:write"),
)
def update_product(request: HttpRequest, id: str, payload: ProductUpdateIn):
    """Rename, describe, archive or unarchive a product, or give it a new price (existing
    subscriptions keep theirs).

    **Scopes**: `products:write`
    """
    product = get_or_404(Product.objects.for_org(request.organization).with_has_orders(), id)
    data = payload.model_dump(exclude_unset=True)
    changes = {k: v for k, v in data.items() if k in ("name", "is_archived", "metadata")}
    if "description" in data:
        changes["description"] = data["description"] or ""
    if changes.get("metadata") is not None:
        check_metadata(changes["metadata"])
    elif "metadata" in changes:
        changes["metadata"] = {}
    if payload.prices:
        price = payload.prices[0]
        if hasattr(price, "price_amount"):
            changes["price_amount"] = price.price_amount
            changes["price_currency"] = price.price_currency
        elif price.id != product.price_id:
            raise validation_error(
                ["body", "prices", 0, "id"],
                "This price does not belong to the product.",
                str(price.id),
            )
    has_orders = product.has_orders
    product = services.product_update(product=product, **changes)
    product.has_orders = has_orders
    return product_out(product)

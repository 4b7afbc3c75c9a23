"""`/v1/checkouts/`: merchants open checkouts; buyers complete them through the client
endpoints (keyed by the checkout's client secret, no token), as Polar's hosted checkout
and `polar-sdk`'s `checkouts.client_*` calls do."""

from contextlib import contextmanager
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from checkouts import services
from checkouts.models import Checkout, CheckoutError
from checkouts.schemas import (
    CheckoutConfirmIn,
    CheckoutCreateIn,
    CheckoutOut,
    CheckoutPublicConfirmedOut,
    CheckoutPublicOut,
    CheckoutUpdatePublicIn,
    buyer_fields,
    checkout_out,
)
from core.api import (
    ERRORS,
    ApiError,
    ErrorOut,
    check_metadata,
    choices_enum,
    found_or_404,
    get_or_404,
    paginate,
    validation_error,
)
from customers.schemas import Pagination
from orders.models import Product
from organizations.api_auth import scopes

router = Router(tags=["checkouts"])
READ = scopes("checkouts:read", "checkouts:write")
WRITE = scopes("checkouts:write")
CLIENT_ERRORS = {**ERRORS, 409: ErrorOut, 410: ErrorOut}
CheckoutStatus = choices_enum("CheckoutStatus", Checkout.Status)


class CheckoutListOut(Schema):
    items: list[CheckoutOut]
    pagination: Pagination


class CheckoutListQuery(Schema):
    product_id: list[UUID] | None = None
    status: list[CheckoutStatus] | None = None
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1)


@router.get("/", response={200: CheckoutListOut, **ERRORS}, summary="List checkouts", auth=READ)
def list_checkouts(request: HttpRequest, filters: Query[CheckoutListQuery]):
    """**Scopes**: `checkouts:read` `checkouts:write`"""
    checkouts = _checkouts(request).order_by("-created_at", "-id")
    if filters.product_id:
        checkouts = checkouts.filter(product_id__in=filters.product_id)
    if filters.status:
        checkouts = checkouts.filter(status__in=filters.status)
    return paginate(
        checkouts,
        page=filters.page,
        limit=min(filters.limit, 100),
        serialize=lambda c: checkout_out(c, base_url=_base(request)),
    )


@router.post("/", response={201: CheckoutOut, **ERRORS}, summary="Create a checkout", auth=WRITE)
def create_checkout(request: HttpRequest, payload: CheckoutCreateIn):
    """Open a checkout for one product. `customer_metadata` is merged into the customer's
    metadata when the buyer pays (the checkout's keys win); `external_customer_id` becomes
    a new customer's external ID. Send the buyer to the returned `url`.

    **Scopes**: `checkouts:write`
    """
    product = Product.objects.for_org(request.organization).filter(pk=payload.products[0]).first()
    if product is None:
        raise validation_error(
            ["body", "products", 0], "No such product.", str(payload.products[0])
        )
    check_metadata(payload.customer_metadata, loc=["body", "customer_metadata"])
    check_metadata(payload.metadata, loc=["body", "metadata"])
    data = payload.model_dump(exclude_unset=True)
    checkout = services.checkout_create(
        organization=request.organization,
        product=product,
        success_url=payload.success_url or "",
        external_customer_id=payload.external_customer_id,
        customer_metadata=payload.customer_metadata,
        metadata=payload.metadata,
        **buyer_fields(data),
    )
    return Status(201, checkout_out(checkout, base_url=_base(request)))


@router.get(
    "/client/{client_secret}",
    response={200: CheckoutPublicOut, **CLIENT_ERRORS},
    summary="Get a checkout by client secret",
    auth=None,
)
def client_get(request: HttpRequest, client_secret: str):
    """For the buyer's page: no token, the client secret is the key."""
    checkout = _by_secret(client_secret)
    if checkout.is_expired(timezone.now()):
        raise ApiError(410, "ExpiredCheckoutError", "This checkout has expired.")
    return checkout_out(checkout, base_url=_base(request), public=True)


@router.patch(
    "/client/{client_secret}",
    response={200: CheckoutPublicOut, **CLIENT_ERRORS},
    summary="Update a checkout by client secret",
    auth=None,
)
def client_update(request: HttpRequest, client_secret: str, payload: CheckoutUpdatePublicIn):
    """The buyer fills in their email, name and billing details."""
    checkout = _by_secret(client_secret)
    with _checkout_errors():
        checkout = services.checkout_update(
            checkout=checkout, **buyer_fields(payload.model_dump(exclude_unset=True))
        )
    return checkout_out(checkout, base_url=_base(request), public=True)


@router.post(
    "/client/{client_secret}/confirm",
    response={200: CheckoutPublicConfirmedOut, 400: ErrorOut, **CLIENT_ERRORS},
    summary="Confirm (pay) a checkout by client secret",
    auth=None,
)
def client_confirm(request: HttpRequest, client_secret: str, payload: CheckoutConfirmIn):
    """Pay and complete. In test mode `confirmation_token_id` is `tok_test_success` (pays)
    or `tok_test_decline` (declined: 400 PaymentError, nothing is created)."""
    checkout = _by_secret(client_secret)
    data = payload.model_dump(exclude_unset=True)
    with _checkout_errors():
        checkout = services.checkout_confirm(
            checkout=checkout,
            payment_token=payload.confirmation_token_id or "",
            **buyer_fields(data),
        )
    # Payment here is synchronous, so the checkout has already succeeded; Polar's confirm
    # answer always reads "confirmed" (the payment is accepted), and GET shows the rest.
    return checkout_out(checkout, base_url=_base(request), public=True) | {"status": "confirmed"}


@router.get("/{id}", response={200: CheckoutOut, **ERRORS}, summary="Get a checkout", auth=READ)
def get_checkout(request: HttpRequest, id: str):
    """**Scopes**: `checkouts:read` `checkouts:write`"""
    return checkout_out(_by_id(request, id), base_url=_base(request))


@router.patch(
    "/{id}",
    response={200: CheckoutOut, 409: ErrorOut, 410: ErrorOut, **ERRORS},
    summary="Update a checkout",
    auth=WRITE,
)
def update_checkout(request: HttpRequest, id: str, payload: CheckoutUpdatePublicIn):
    """Fill in the buyer's details before they pay.

    **Scopes**: `checkouts:write`
    """
    checkout = _by_id(request, id)
    with _checkout_errors():
        checkout = services.checkout_update(
            checkout=checkout, **buyer_fields(payload.model_dump(exclude_unset=True))
        )
    return checkout_out(checkout, base_url=_base(request))


def _base(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _checkouts(request):
    return Checkout.objects.filter(organization=request.organization).select_related(
        "product", "organization"
    )


def _by_id(request, raw_id: str) -> Checkout:
    return get_or_404(_checkouts(request), raw_id)


def _by_secret(client_secret: str) -> Checkout:
    return found_or_404(
        Checkout.objects.select_related("product", "organization")
        .filter(client_secret=client_secret)
        .first()
    )


@contextmanager
def _checkout_errors():
    try:
        yield
    except CheckoutError as error:
        if error.status == 422:
            raise validation_error(["body", error.field or "checkout"], error.detail) from None
        raise ApiError(error.status, error.error, error.detail) from None

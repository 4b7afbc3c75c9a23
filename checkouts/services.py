"""Checkout writes: create (merchant), update and confirm (buyer), and completion.

Completion is one transaction and idempotent: the checkout row is locked, a completed
checkout is returned as it is, and everything a purchase writes (customer, order,
subscription) is written together or not at all.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from checkouts.models import Checkout, CheckoutError
from checkouts.payments import PaymentProcessor, get_processor
from checkouts.schemas import checkout_event
from core.changes import Actor, ActorType, Change, acting, record
from core.metadata import validate_metadata
from customers import services as customer_services
from customers.models import ADDRESS_PARTS, Customer
from orders import services as order_services
from orders.models import Order, Product
from organizations.models import Organization

# What the buyer (or the merchant, before payment) may fill in on an open checkout.
BUYER_FIELDS = frozenset(
    {
        "customer_email",
        "customer_name",
        "customer_billing_name",
        "customer_tax_id",
        *(f"customer_billing_address_{part}" for part in ADDRESS_PARTS),
    }
)


def checkout_create(
    *,
    organization: Organization,
    product: Product,
    success_url: str = "",
    external_customer_id: str | None = None,
    customer_metadata: dict | None = None,
    metadata: dict | None = None,
    **buyer: Any,
) -> Checkout:
    """Open a checkout for one product; it expires after CHECKOUT_TTL_SECONDS."""
    _refuse_unknown(buyer, BUYER_FIELDS)
    if product.organization_id != organization.pk:
        raise ValidationError({"products": "The product belongs to another organization."})
    if product.is_archived:
        raise ValidationError({"products": "This product is archived and cannot be sold."})
    checkout = Checkout(
        organization=organization,
        product=product,
        amount=product.price_amount,
        currency=product.price_currency,
        expires_at=timezone.now() + timedelta(seconds=settings.CHECKOUT_TTL_SECONDS),
        success_url=success_url or "",
        external_customer_id=(external_customer_id or "").strip(),
        customer_metadata=customer_metadata or {},
        metadata=metadata or {},
        **_normalise(buyer),
    )
    with transaction.atomic():
        checkout.full_clean()
        checkout.save()
        _record_checkout(checkout, "checkout.created")
    return checkout


def checkout_update(*, checkout: Checkout, **buyer: Any) -> Checkout:
    """Fill in the buyer's details on an open checkout."""
    _refuse_unknown(buyer, BUYER_FIELDS)
    with transaction.atomic():
        current = Checkout.objects.select_for_update().get(pk=checkout.pk)
        current.ensure_open(timezone.now())
        for field, value in _normalise(buyer).items():
            setattr(current, field, value)
        current.full_clean()
        current.save()
        _record_checkout(current, "checkout.updated")
    return current


def checkout_confirm(
    *,
    checkout: Checkout,
    payment_token: str,
    processor: PaymentProcessor | None = None,
    **buyer: Any,
) -> Checkout:
    """Pay and complete a checkout: the buyer's last details, the charge, then the
    customer, order and (for a recurring price) subscription, in one transaction.

    A declined payment raises CheckoutError("PaymentError") and writes nothing; the
    checkout stays open for another try. Confirming a completed checkout returns it
    unchanged, so a retried request never charges or creates twice.
    """
    processor = processor or get_processor()
    _refuse_unknown(buyer, BUYER_FIELDS)
    # The buyer acts here, whoever called: their changes carry them on the timeline, by
    # the checkout's ID and no name (the timeline shows the customer's: activity.models).
    with acting(actor=Actor(ActorType.BUYER, str(checkout.pk))), transaction.atomic():
        current = (
            Checkout.objects.select_for_update()
            .select_related("product", "organization")
            .get(pk=checkout.pk)
        )
        if current.status == Checkout.Status.SUCCEEDED:
            return current
        current.ensure_open(timezone.now())
        for field, value in _normalise(buyer).items():
            setattr(current, field, value)
        if not current.customer_email:
            raise ValidationError({"customer_email": "Enter your email address."})
        current.full_clean()
        # Everything that could refuse the purchase is checked before any money moves.
        customer = _resolve_customer(current)
        merged_metadata = {**(customer.metadata if customer else {}), **current.customer_metadata}
        try:
            validate_metadata(merged_metadata)
        except ValidationError as error:
            raise ValidationError({"customer_metadata": error.messages}) from None

        result = processor.charge(
            amount=current.amount,
            currency=current.currency,
            token=payment_token,
            description=current.product.name,
        )
        if not result.succeeded:
            raise CheckoutError("PaymentError", result.decline_reason, status=400)
        _complete(current, customer, payment_token)
    return current


def _resolve_customer(checkout: Checkout) -> Customer | None:
    """The live customer this purchase belongs to, or None for a new one.

    Found by email (ignoring case). Its external ID, once set, stays; a checkout naming a
    different external ID, or one that another customer holds, is refused.
    """
    live = Customer.objects.for_org(checkout.organization)
    customer = live.with_email(checkout.customer_email).select_for_update().first()
    wanted = checkout.external_customer_id
    if not wanted:
        return customer
    holder = live.filter(external_id=wanted).first()
    conflict = (holder is not None and holder != customer) or (
        customer is not None and customer.external_id not in (None, wanted)
    )
    if conflict:
        raise CheckoutError(
            "CustomerMismatch",
            f"The external customer ID {wanted!r} belongs to another customer than "
            f"{checkout.customer_email}.",
            status=422,
            field="external_customer_id",
        )
    return customer


def _complete(checkout: Checkout, customer: Customer | None, payment_token: str) -> None:
    billing = {
        field.removeprefix("customer_"): getattr(checkout, field)
        for field in BUYER_FIELDS - {"customer_email", "customer_name"}
        if getattr(checkout, field)
    }
    if customer is None:
        customer = customer_services.customer_create(
            organization=checkout.organization,
            email=checkout.customer_email,
            name=checkout.customer_name,
            external_id=checkout.external_customer_id or None,
            metadata=checkout.customer_metadata,
            **billing,
        )
    else:
        changes: dict[str, Any] = {
            "metadata": {**customer.metadata, **checkout.customer_metadata},
            **billing,
        }
        if not customer.name and checkout.customer_name:
            changes["name"] = checkout.customer_name
        if customer.external_id is None and checkout.external_customer_id:
            changes["external_id"] = checkout.external_customer_id
        customer = customer_services.customer_update(customer=customer, **changes)

    product = checkout.product
    subscription = None
    if product.is_recurring:
        subscription = order_services.subscription_create(
            customer=customer, product=product, payment_method_token=payment_token
        )
    order = order_services.order_create(
        customer=customer,
        product=product,
        subscription=subscription,
        subtotal_amount=checkout.amount,
        currency=checkout.currency,
        billing_reason=Order.BillingReason.SUBSCRIPTION_CREATE
        if subscription
        else Order.BillingReason.PURCHASE,
    )
    checkout.customer, checkout.order, checkout.subscription = customer, order, subscription
    checkout.status = Checkout.Status.SUCCEEDED
    checkout.save()
    _record_checkout(checkout, "checkout.completed")


def _record_checkout(checkout: Checkout, type: str) -> None:
    """Report the change (webhooks; a completed checkout also on the customer's timeline)
    in this transaction."""
    record(
        Change(
            type=type,
            organization_id=checkout.organization_id,
            customer_id=checkout.customer_id,
            subject=checkout,
            changes={"status": [Checkout.Status.OPEN, checkout.status]}
            if type == "checkout.completed"
            else {},
            event_data=lambda: checkout_event(checkout),
        )
    )


def _normalise(buyer: dict) -> dict:
    values = {field: (value or "").strip() for field, value in buyer.items()}
    if values.get("customer_billing_address_country"):
        values["customer_billing_address_country"] = values[
            "customer_billing_address_country"
        ].upper()
    return values


def _refuse_unknown(values: dict, allowed: frozenset) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise TypeError(f"Unknown checkout fields: {', '.join(unknown)}")

"""The checkouts' part in erasing a customer (core.erasure): the buyer's details on the
customer's checkout sessions emptied in one UPDATE (the amounts, product, status and
times stay with the order they paid for; so do the merchant's `external_customer_id`,
`metadata`, and the billing country); and the export's `checkouts` section."""

from collections.abc import Iterator
from uuid import UUID

from checkouts.models import Checkout
from core.erasure import CUSTOMER_KEY, Erasure, iter_batches
from customers.models import ADDRESS_PARTS

BUYER_FIELDS = (
    "customer_email",
    "customer_name",
    "customer_billing_name",
    *(f"customer_billing_address_{part}" for part in ADDRESS_PARTS if part != "country"),
    "customer_tax_id",
)

EXPORTED_FIELDS = (
    "id", "created_at", "modified_at", "customer_id", "status", "product_id", "amount",
    "currency", "expires_at", "success_url", *BUYER_FIELDS, "customer_billing_address_country",
    "external_customer_id", "customer_metadata", "metadata", "order_id", "subscription_id",
)  # fmt: skip


def scrub(erasure: Erasure) -> None:
    Checkout.objects.filter(
        organization_id=erasure.organization_id, customer_id__in=erasure.customer_ids
    ).update(customer_metadata={}, **dict.fromkeys(BUYER_FIELDS, ""))


def checkouts_section(organization_id: UUID, ids: tuple) -> Iterator[dict]:
    """The customer's checkout sessions, without their client secret (a capability)."""
    checkouts = Checkout.objects.filter(organization_id=organization_id, customer_id__in=ids)
    yield from iter_batches(checkouts.values(*EXPORTED_FIELDS), key=CUSTOMER_KEY)

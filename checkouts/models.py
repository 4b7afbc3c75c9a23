import secrets
from datetime import datetime

from django.db import models
from django.db.models import Q

from core.metadata import validate_metadata
from core.models import BaseModel
from customers.countries import validate_country_code
from customers.models import ADDRESS_PARTS, EMAIL_MAX_LENGTH, Customer
from orders.models import Order, Product, Subscription
from organizations.models import Organization


def new_client_secret() -> str:
    return "polar_c_" + secrets.token_urlsafe(32)


class CheckoutError(Exception):
    """A checkout that cannot go on, with Polar's name for the reason."""

    def __init__(self, error: str, detail: str, *, status: int = 403, field: str | None = None):
        super().__init__(detail)
        self.error, self.detail, self.status, self.field = error, detail, status, field


class Checkout(BaseModel):
    """A buyer's way to one product: created by the merchant's backend, completed by the
    buyer on the hosted page (or through the client API) with a payment."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        EXPIRED = "expired", "Expired"
        CONFIRMED = "confirmed", "Confirmed"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="checkouts"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="checkouts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The buyer's capability: whoever holds it can see and complete this checkout.
    client_secret = models.CharField(max_length=64, unique=True, default=new_client_secret)
    expires_at = models.DateTimeField()
    success_url = models.URLField(max_length=2000, blank=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    customer_email = models.EmailField(max_length=EMAIL_MAX_LENGTH, blank=True)
    customer_name = models.CharField(max_length=256, blank=True)
    external_customer_id = models.CharField(max_length=200, blank=True)
    customer_billing_name = models.CharField(max_length=256, blank=True)
    customer_billing_address_line1 = models.CharField(max_length=256, blank=True)
    customer_billing_address_line2 = models.CharField(max_length=256, blank=True)
    customer_billing_address_postal_code = models.CharField(max_length=32, blank=True)
    customer_billing_address_city = models.CharField(max_length=128, blank=True)
    customer_billing_address_state = models.CharField(max_length=128, blank=True)
    customer_billing_address_country = models.CharField(
        max_length=2, blank=True, validators=[validate_country_code]
    )
    customer_tax_id = models.CharField(max_length=64, blank=True)
    customer_metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="checkouts"
    )
    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="checkout"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="checkouts"
    )

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="checkout_org_created")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="checkout_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Checkout {self.id} ({self.status})"

    def is_expired(self, now: datetime) -> bool:
        return self.status == self.Status.OPEN and self.expires_at <= now

    def ensure_open(self, now: datetime) -> None:
        """Refuse changes to a checkout that expired or was already paid."""
        if self.status in (self.Status.CONFIRMED, self.Status.SUCCEEDED):
            raise CheckoutError("CheckoutLocked", "This checkout is already completed.", status=409)
        if self.status == self.Status.EXPIRED or self.is_expired(now):
            raise CheckoutError("ExpiredCheckoutError", "This checkout has expired.", status=410)
        if self.status != self.Status.OPEN:
            raise CheckoutError("NotPermitted", f"This checkout is {self.status}.")

    @property
    def billing_address(self) -> dict | None:
        if not self.customer_billing_address_country:
            return None
        return {
            part: getattr(self, f"customer_billing_address_{part}") or None
            for part in ADDRESS_PARTS
        }

from django.core.validators import URLValidator
from django.db import models

from core.models import BaseModel
from customers.models import Customer
from organizations.models import Organization


class CustomerSession(BaseModel):
    """A customer signed in to the portal: a bearer token acting as one customer of one
    organization, until it expires or is revoked.

    Only a SHA-256 hash of the token is stored: the merchant's backend gets the token
    once, from `POST /v1/customer-sessions/`, and hands the customer a link holding it.
    The hosted portal pages (later) read the same sessions, so a session says nothing of
    how it is used: it names its customer, its lifetime and where "back" goes.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="customer_sessions"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sessions")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Where the portal's back button leads (the merchant's site); http(s) only, since
    # a page will put it in a link.
    return_url = models.URLField(
        max_length=2000, blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )

    class Meta:
        indexes = [
            # A customer's sessions, to revoke them all (and to list them on a page later).
            models.Index(fields=["organization", "customer"], name="customer_session_customer"),
        ]

    def __str__(self) -> str:
        return f"Session of {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now

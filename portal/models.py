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
            # The hourly purge of sessions that ended (portal.jobs).
            models.Index(fields=["expires_at"], name="customer_session_expires"),
        ]

    def __str__(self) -> str:
        return f"Session of {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now


class PortalSignInCode(BaseModel):
    """A 6-digit code emailed to sign in to the hosted portal without a merchant's link.

    A row is written for every request, whether or not the email is a customer's (the
    answer must not tell), but the code is emailed only to a live customer. Only an HMAC
    of the code is kept; a code lasts 15 minutes and takes 5 wrong tries, then a new one
    is needed.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="portal_sign_in_codes"
    )
    email_lower = models.CharField(max_length=320)
    code_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The latest code of an email, the one a sign-in checks.
            models.Index(
                fields=["organization", "email_lower", "-created_at"],
                name="portal_sign_in_code_email",
            ),
            models.Index(fields=["expires_at"], name="portal_sign_in_code_expires"),
        ]

    def __str__(self) -> str:
        return f"Sign-in code for {self.email_lower} until {self.expires_at:%Y-%m-%d %H:%M}"

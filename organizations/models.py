import time

from django.conf import settings
from django.core.validators import RegexValidator, URLValidator
from django.db import models

from core.models import BaseModel
from core.timezones import validate_timezone

# Organization fields a plain save() leaves alone (see Organization.save).
JOB_FIELDS = frozenset({"webhooks_version", "pending_timezone", "pending_timezone_locked_until"})


class Organization(BaseModel):
    """A merchant. Every tenant row belongs to exactly one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    # A new random value, set by a database trigger (webhooks migration 0003), whenever
    # one of the organization's webhook endpoints is added, removed or changes what it
    # listens to: the key of the per-process cache of its listeners
    # (webhooks.events.listeners).
    webhooks_version = models.BigIntegerField(default=0, editable=False)
    # The customer portal's settings (Settings → Customer portal, owners only): what
    # customers may do there, where they write for help, and where its back link leads
    # when a session names no return URL. The portal's pages and API enforce them.
    portal_allow_subscription_cancel = models.BooleanField(
        "Customers may cancel subscriptions",
        default=True,
        help_text="Cancel at the end of the period, and undo that.",
    )
    portal_allow_billing_update = models.BooleanField(
        "Customers may update billing details",
        default=True,
        help_text="Name, billing name, billing address and tax ID.",
    )
    portal_support_email = models.EmailField(
        "Support email",
        blank=True,
        help_text="Shown in the portal, and where replies to portal emails go.",
    )
    portal_return_url = models.URLField(
        "Default return URL",
        max_length=2000,
        blank=True,
        # http(s) only: the portal puts it in a link.
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="The portal's back link when the session names none, such as "
        "https://example.com/account.",
    )
    # Analytics: a day is the merchant's day, in this zone; amounts are shown in this
    # currency first (an organization selling in several gets a series for each).
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="IANA name, such as Europe/Paris: where the overview's days begin.",
    )
    currency = models.CharField(
        max_length=3,
        default="usd",
        validators=[RegexValidator(r"^[a-z]{3}$", "A currency is three lowercase letters.")],
        help_text="The currency the overview shows first (ISO 4217, lowercase).",
    )
    # A timezone change waiting for the worker (organizations.jobs): on PostgreSQL the
    # UPDATE of `timezone` recuts the organization's kept daily figures in its own
    # transaction (analytics migration 0002), too long for a web request. NULL when none
    # is pending (nullable, so SQLite adds the column in place: rebuilding the table
    # fails on the webhooks triggers that name it); `pending_timezone_locked_until` is
    # the lease of the worker applying it (a killed or failed attempt is tried again once
    # it runs out).
    pending_timezone = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, editable=False
    )
    pending_timezone_locked_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The job's poll: the few organizations with a change pending.
            models.Index(
                fields=["pending_timezone_locked_until"],
                condition=models.Q(pending_timezone__isnull=False),
                name="organization_timezone_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        # When webhooks_version was read: only a fresh one keys the listeners' cache.
        instance.read_at = time.monotonic()
        return instance

    def save(self, *args, **kwargs) -> None:
        # Only the trigger moves webhooks_version: saving an instance read before the
        # last endpoint change must not write its older value back (a process still
        # caching that version's listeners would then be trusted). Likewise only the
        # settings page and the worker move a pending timezone change.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in JOB_FIELDS
            ]
        super().save(*args, **kwargs)


class Membership(BaseModel):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_user_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "member"]), name="membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "organization"], name="membership_user_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class AccessTokenScope(models.TextChoices):
    CUSTOMERS_READ = "customers:read", "Read customers"
    CUSTOMERS_WRITE = "customers:write", "Create, update and delete customers"
    ORDERS_READ = "orders:read", "Read orders"
    SUBSCRIPTIONS_READ = "subscriptions:read", "Read subscriptions"
    SUBSCRIPTIONS_WRITE = "subscriptions:write", "Cancel and revoke subscriptions"
    PRODUCTS_READ = "products:read", "Read products"
    PRODUCTS_WRITE = "products:write", "Create and update products"
    CHECKOUTS_READ = "checkouts:read", "Read checkouts"
    CHECKOUTS_WRITE = "checkouts:write", "Create checkouts"
    WEBHOOKS_READ = "webhooks:read", "Read webhook endpoints and deliveries"
    WEBHOOKS_WRITE = "webhooks:write", "Manage webhook endpoints and redeliver events"
    CUSTOMER_SESSIONS_WRITE = "customer_sessions:write", "Open customer portal sessions"
    METRICS_READ = "metrics:read", "Read metrics"


class OrganizationAccessToken(BaseModel):
    """A bearer token for the API, acting for one organization.

    Only a SHA-256 hash of the secret is stored: the secret itself is shown once, at
    creation. A token works until it expires or is revoked.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the secret, so people can tell their tokens apart.
    token_prefix = models.CharField(max_length=24, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        indexes = [
            models.Index(fields=["organization", "created_at"], name="token_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, *scopes: str) -> bool:
        """True when the token holds any of `scopes`."""
        return any(scope in self.scopes for scope in scopes)

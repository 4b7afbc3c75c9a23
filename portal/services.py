"""Writes and the token check of customer sessions."""

import hashlib
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.changes import Actor, ActorType, Source, acting
from core.prepared import PreparedQuery
from customers.models import Customer
from portal.models import CustomerSession

# As Polar's: a customer session token is told apart from an organization's at a glance.
TOKEN_PREFIX = "polar_cst_"
# Runs on every portal request: compiled once (see core/prepared.py).
_SESSION_BY_HASH = PreparedQuery(
    lambda p: CustomerSession.objects.select_related("customer", "organization").filter(
        token_hash=p.token_hash
    )
)


def hash_token(token: str) -> str:
    # The token holds 256 random bits, so a plain SHA-256 is enough (no slow KDF).
    return hashlib.sha256(token.encode()).hexdigest()


def customer_session_create(
    *, customer: Customer, return_url: str | None = None, now: datetime | None = None
) -> tuple[CustomerSession, str]:
    """Open a session for a live customer, for CUSTOMER_SESSION_TTL_SECONDS; return it with
    its token, which is never retrievable again. A bad `return_url` is a ValidationError
    naming it."""
    now = now or timezone.now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = CustomerSession(
        organization_id=customer.organization_id,
        customer=customer,
        token_hash=hash_token(token),
        expires_at=now + timedelta(seconds=settings.CUSTOMER_SESSION_TTL_SECONDS),
        return_url=return_url or "",
        created_at=now,
    )
    # Only the URL comes from outside; the rest the database already guarantees.
    session.clean_fields(exclude=[f.name for f in session._meta.fields if f.name != "return_url"])
    session.save()
    return session, token


def customer_session_revoke(*, session: CustomerSession) -> CustomerSession:
    """End a session at once; revoking twice is a no-op."""
    if session.revoked_at is None:
        session.revoked_at = timezone.now()
        session.save(update_fields=["revoked_at", "modified_at"])
    return session


def customer_sessions_revoke_all(*, customer: Customer) -> int:
    """End every open session of a customer (a merchant's "sign out everywhere")."""
    with transaction.atomic():
        return CustomerSession.objects.filter(
            organization_id=customer.organization_id, customer=customer, revoked_at=None
        ).update(revoked_at=timezone.now(), modified_at=timezone.now())


def customer_session_authenticate(token: str, *, now: datetime | None = None):
    """The usable session with this token (customer and organization loaded), or None: an
    unknown, expired or revoked token, or one whose customer was deleted since."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    session = _SESSION_BY_HASH.first(token_hash=hash_token(token))
    if session is None or not session.is_usable(now or timezone.now()):
        return None
    if session.customer.deleted_at is not None:
        return None
    return session


def customer_portal_url(session: CustomerSession, token: str) -> str:
    """The hosted portal's address for this session: the link a merchant sends the
    customer to (the page itself is served by a later change)."""
    slug = quote(session.organization.slug)
    return f"{settings.SITE_URL}/portal/{slug}/?customer_session_token={quote(token)}"


def receipt_url(*, organization, order_id) -> str:
    """Where an order's receipt is shown (the page is served by a later change)."""
    return f"{settings.SITE_URL}/portal/{quote(organization.slug)}/orders/{order_id}/receipt"


def acting_as_customer(customer: Customer):
    """Act as the customer, from the portal, for the block's changes (the API and the
    hosted pages alike), so the timeline and the webhooks name them: by their ID, with no
    name (the timeline shows the customer's as it is when read: activity.models)."""
    return acting(actor=Actor(ActorType.CUSTOMER, str(customer.pk)), source=Source.PORTAL)

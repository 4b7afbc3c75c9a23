"""Sign-in to the hosted portal by a code emailed to the customer.

A code is 6 digits (`secrets.randbelow`), kept only as an HMAC-SHA256 keyed with
SECRET_KEY, valid `CODE_TTL` and for `MAX_ATTEMPTS` wrong tries. Asking for one always
writes a row, and emails it only when a live customer of the organization has that email,
so the answer (and nearly all the work behind it) is the same for a stranger. Requests are
counted per email and per client address in the cache, in fixed one-hour windows as the
API's rate limit counts minutes; over the limit the caller answers 429 with Retry-After
and never waits.
"""

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core.clients import address_key
from core.emails import email_send
from customers.models import Customer
from organizations.models import Organization
from portal.models import CustomerSession, PortalSignInCode
from portal.services import customer_session_create

CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
WINDOW_SECONDS = 3600


def codes_per_email_per_hour() -> int:
    return settings.PORTAL_SIGN_IN_CODES_PER_EMAIL_PER_HOUR


def requests_per_address_per_hour() -> int:
    return settings.PORTAL_SIGN_IN_REQUESTS_PER_ADDRESS_PER_HOUR


class RateLimited(Exception):
    """Too many sign-in requests; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"Retry after {retry_after} s")
        self.retry_after = retry_after


class CodeRefused(Exception):
    """A wrong, expired, used-up or unknown code (the message is the customer's)."""


def normalized_email(email: str) -> str:
    return email.strip().lower()


def code_hash(*, organization_id, email_lower: str, code: str) -> str:
    message = f"{organization_id}:{email_lower}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _count(ident: str, limit: int, now: float) -> None:
    """Count one request against `ident`'s window; RateLimited past `limit`."""
    window = int(now // WINDOW_SECONDS)
    key = f"portal-sign-in:{ident}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count this request alone
        cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        count = 1
    if count > limit:
        raise RateLimited(max(1, int((window + 1) * WINDOW_SECONDS - now) + 1))


def check_address_limit(address: str) -> None:
    """Count a sign-in request (asking for a code or entering one) from this address."""
    _count(f"ip:{address_key(address)}", requests_per_address_per_hour(), time.time())


def sign_in_code_request(
    *, organization: Organization, email: str, address: str, now: datetime | None = None
) -> PortalSignInCode:
    """Write a new code for `email` and email it if a live customer has that email.

    Counts the request per address and per email first (RateLimited when over). The
    returned row is the same whether or not the email is a customer's.
    """
    email_lower = normalized_email(email)
    check_address_limit(address)
    email_digest = hashlib.sha256(f"{organization.pk}:{email_lower}".encode()).hexdigest()
    _count(f"email:{email_digest}", codes_per_email_per_hour(), time.time())
    now = now or timezone.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    customer = (
        Customer.objects.for_org(organization)
        .with_email(email_lower)
        .only("pk", "email", "name", "locale")
        .first()
    )
    hashed = code_hash(organization_id=organization.pk, email_lower=email_lower, code=code)
    with transaction.atomic():
        row = PortalSignInCode.objects.create(
            organization=organization,
            email_lower=email_lower,
            code_hash=hashed,
            expires_at=now + CODE_TTL,
            created_at=now,
        )
        if customer is not None:
            context = {"organization": organization, "code": code, "minutes": 15}
            email_send(
                to=customer.email,
                subject=render_to_string("portal/email/sign_in_code_subject.txt", context).strip(),
                text=render_to_string("portal/email/sign_in_code.txt", context),
                html=render_to_string("portal/email/sign_in_code.html", context),
                from_name=organization.name,
                # Replies reach the merchant's support, when the portal settings name one.
                reply_to=organization.portal_support_email,
                organization_id=organization.pk,
            )
    return row


def sign_in_code_verify(
    *,
    organization: Organization,
    email: str,
    code: str,
    address: str,
    now: datetime | None = None,
) -> tuple[CustomerSession, str]:
    """Open a customer session for the latest code of `email` when `code` matches it.

    Raises RateLimited (per address), or CodeRefused for a wrong code (each one used up
    one of the code's tries), an expired or used code, a code whose tries are spent, or an
    email that is no customer's.
    """
    check_address_limit(address)
    now = now or timezone.now()
    email_lower = normalized_email(email)
    # A wrong try must stay counted, so the refusal is raised after the transaction.
    refusal = None
    with transaction.atomic():
        row = (
            PortalSignInCode.objects.select_for_update()
            .filter(organization=organization, email_lower=email_lower)
            .order_by("-created_at")
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            refusal = _("This code has expired. Ask for a new one.")
        elif row.attempts >= MAX_ATTEMPTS:
            refusal = _("Too many wrong codes. Ask for a new one.")
        else:
            expected = code_hash(
                organization_id=organization.pk, email_lower=email_lower, code=code.strip()
            )
            customer = Customer.objects.for_org(organization).with_email(email_lower).first()
            if not hmac.compare_digest(expected, row.code_hash) or customer is None:
                PortalSignInCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
                refusal = _("That code is not right. Check the email and try again.")
            else:
                row.used_at = now
                row.save(update_fields=["used_at", "modified_at"])
                return customer_session_create(customer=customer, now=now)
    raise CodeRefused(refusal)

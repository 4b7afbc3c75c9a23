"""Writes of organizations' access tokens."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from core.prepared import PreparedQuery
from organizations.models import AccessTokenScope, Organization, OrganizationAccessToken

TOKEN_PREFIX = "polar_oat_"
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_PRECISION = timedelta(minutes=5)
# Runs on every API request: compiled once (see core/prepared.py).
_TOKEN_BY_HASH = PreparedQuery(
    lambda p: OrganizationAccessToken.objects.select_related("organization").filter(
        token_hash=p.token_hash
    )
)


def hash_token(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 is enough (no slow KDF).
    return hashlib.sha256(secret.encode()).hexdigest()


def access_token_create(
    *,
    organization: Organization,
    name: str,
    scopes: list[str],
    expires_in_days: int | None = None,
    created_by=None,
) -> tuple[OrganizationAccessToken, str]:
    """Create a token; return it with its secret, which is never retrievable again."""
    unknown = sorted(set(scopes) - set(AccessTokenScope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    if expires_in_days is not None and expires_in_days < 1:
        raise ValidationError({"expires_in_days": "A token must live at least one day."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = OrganizationAccessToken(
        organization=organization,
        name=name.strip(),
        token_hash=hash_token(secret),
        token_prefix=secret[: len(TOKEN_PREFIX) + 6],
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
        created_by=created_by,
    )
    token.full_clean()
    token.save()
    return token, secret


def access_token_revoke(*, token: OrganizationAccessToken) -> OrganizationAccessToken:
    """Revoke a token at once; revoking twice is a no-op."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "modified_at"])
    return token


def access_token_authenticate(secret: str, *, now: datetime | None = None):
    """The usable token with this secret (organization loaded), or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or timezone.now()
    token = _TOKEN_BY_HASH.first(token_hash=hash_token(secret))
    if token is None or not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        # Bookkeeping, not the client's data: written on the primary by name, so that it
        # does not count as this request's write (which would keep the token's reads off
        # the read replicas for REPLICA_STICKY_SECONDS; core/replicas.py).
        OrganizationAccessToken.objects.using(DEFAULT_DB_ALIAS).filter(pk=token.pk).update(
            last_used_at=now
        )
        token.last_used_at = now
    return token

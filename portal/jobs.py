"""The portal's clean-up job (registered with core.jobs, run by `manage.py run_jobs`):
customer sessions and sign-in codes are kept a day past their end, then deleted, so the
tables hold what can still be used (and a day of history for support) rather than every
session ever opened. Polled hourly; a batch at a time, so a backlog never holds a long
lock."""

from datetime import timedelta

from django.utils import timezone

from portal.models import CustomerSession, PortalSignInCode

PURGE_EVERY_SECONDS = 3600.0
KEPT_AFTER_EXPIRY = timedelta(days=1)
BATCH = 1000


def _purge(model, cutoff) -> int:
    ids = list(model.objects.filter(expires_at__lt=cutoff).values_list("pk", flat=True)[:BATCH])
    if not ids:
        return 0
    deleted, _ = model.objects.filter(pk__in=ids).delete()
    return deleted


def purge_expired(*, now=None) -> int:
    """Delete up to a batch of each kind that ended more than a day ago; how many went."""
    cutoff = (now or timezone.now()) - KEPT_AFTER_EXPIRY
    return _purge(CustomerSession, cutoff) + _purge(PortalSignInCode, cutoff)

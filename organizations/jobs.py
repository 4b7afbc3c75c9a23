"""The timezone change job (registered with core.jobs, run by `manage.py run_jobs`).

An organization's days are cut in its timezone, and on PostgreSQL changing it recuts every
kept daily figure of the organization inside the UPDATE (analytics migration 0002's
trigger, with the order tables' writers held off meanwhile): seconds at a few million
orders, too long for a web request. So the settings page only sets `pending_timezone`
(`timezone_change_request`), and this job applies it: one transaction that locks the
organization's row, sets `timezone` from the pending value and clears it, so the recut and
the new zone commit together or not at all. A killed or failed attempt leaves the old zone
and its figures as they were, and the change pending; it is tried again when its lease
(`pending_timezone_locked_until`, taken in a transaction of its own) runs out. On SQLite
there are no kept figures and the job is simply fast.

Last one wins: the request and the job both write the pending value under the row's lock,
and the job applies whatever is pending when it holds the lock, never a value it read
before.
"""

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from core.timezones import validate_timezone
from organizations.models import Organization

logger = logging.getLogger("organizations.jobs")

# How long an attempt may run before another worker may take the change over (an attempt
# still running holds the row's lock, so the other worker's claim skips it anyway), and
# how long a failed attempt waits before the next.
LEASE = timedelta(seconds=60)


def timezone_change_request(*, organization: Organization, timezone_name: str) -> None:
    """Ask the worker to move the organization to `timezone_name` (validated by the
    caller); the zone it has already withdraws a pending change. Run in the caller's
    transaction, with the organization's row locked (settings page)."""
    validate_timezone(timezone_name)
    # Decided by the database against the row as committed, not as read: a change the
    # worker applied meanwhile is seen.
    Organization.objects.filter(pk=organization.pk).update(
        pending_timezone=Case(
            When(timezone=timezone_name, then=Value(None)), default=Value(timezone_name)
        ),
        pending_timezone_locked_until=None,  # a new choice is tried at once
        modified_at=timezone.now(),
    )


def apply_timezone_changes(*, now=None) -> int:
    """Apply one organization's pending timezone change; 1 if one was claimed."""
    claimed = _claim(now or timezone.now())
    if claimed is None:
        return 0
    _apply(claimed)
    return 1


def _claim(now) -> int | None:
    with transaction.atomic():
        organization = (
            Organization.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pending_timezone__isnull=False)
            .filter(
                Q(pending_timezone_locked_until__isnull=True)
                | Q(pending_timezone_locked_until__lte=now)
            )
            .order_by("pending_timezone_locked_until")
            .only("pk")
            .first()
        )
        if organization is None:
            return None
        Organization.objects.filter(pk=organization.pk).update(
            pending_timezone_locked_until=now + LEASE
        )
    return organization.pk


def _apply(pk) -> None:
    with transaction.atomic():
        # Waits for a settings save in flight, then reads what is pending now.
        current = (
            Organization.objects.select_for_update(no_key=True)
            .filter(pk=pk)
            .values("timezone", "pending_timezone")
            .first()
        )
        if current is None or not current["pending_timezone"]:
            return  # deleted, or the change was withdrawn meanwhile
        target = current["pending_timezone"]
        try:
            validate_timezone(target)
        except ValidationError:
            # This Python no longer knows the zone (tzdata changed since it was chosen):
            # the organization keeps the zone it has.
            logger.error("organization %s: unknown timezone %r dropped", pk, target)
            target = current["timezone"]
        # On PostgreSQL this UPDATE recuts the figures (analytics trigger), in this
        # transaction.
        Organization.objects.filter(pk=pk).update(
            timezone=target,
            pending_timezone=None,
            pending_timezone_locked_until=None,
            modified_at=timezone.now(),
        )
    logger.info("organization %s: timezone %s -> %s", pk, current["timezone"], target)

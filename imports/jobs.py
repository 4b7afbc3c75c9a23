"""The import job (registered with core.jobs, run by `manage.py run_jobs`): the dry run
and the apply of each import, a batch of rows at a time.

A worker claims one import under SKIP LOCKED and takes a lease on it (`locked_by`,
`locked_until`), renewed by every batch; a second worker finds nothing to claim until the
lease runs out, which is how a killed worker's import is taken up again. Every batch first
checks that the lease is still this worker's and that the import was not canceled, so an
import is worked on by one worker at a time and stops within a batch of being canceled.

The dry run writes only to the import (its counts, the preview's first changes, the rows'
errors) and starts again from the top when resumed. The apply commits each batch with
`applied_through`, the last row it applied, in the same transaction as the rows
themselves; a resumed apply skips the rows up to there, so no row is applied twice.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.changes import Actor, Source, acting
from imports.apply import apply_batch
from imports.claims import DiskClaims, MemoryClaims
from imports.models import CustomerImport, ImportRowError
from imports.plan import Options, Plan, Planner, batches
from imports.reader import HEAD_BYTES, ImportFileError, read_rows, sniff
from imports.services import mappings_of

LEASE = timedelta(seconds=60)
FAILED_READING = "The file could not be read: "


class LeaseLost(Exception):
    """The import was canceled, or another worker took it over: stop working on it."""


def run_imports(*, on_batch=None, only=None) -> int:
    """Claim one import that is due (or the import `only`) and run its phase to the end;
    1 if one was run. `on_batch(customer_import)` is called after each batch (the
    command's progress bar)."""
    customer_import = _claim(only)
    if customer_import is None:
        return 0
    try:
        if customer_import.status == CustomerImport.Status.VALIDATING:
            _validate(customer_import, on_batch)
        else:
            _apply(customer_import, on_batch)
    except LeaseLost:
        pass
    return 1


def _claim(only=None) -> CustomerImport | None:
    now = timezone.now()
    imports = CustomerImport.objects.filter(pk=only.pk) if only else CustomerImport.objects
    with transaction.atomic():
        claimed = (
            imports.select_for_update(skip_locked=True)
            .filter(status__in=CustomerImport.WORKING)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("created_at")
            .first()
        )
        if claimed is None:
            return None
        claimed.locked_by = secrets.token_hex(8)
        claimed.locked_until = now + LEASE
        claimed.save(update_fields=["locked_by", "locked_until", "modified_at"])
    return claimed


@dataclass
class _Progress:
    rows: int = 0
    bytes: int = 0


class _CountingReader:
    """The file as read so far, in bytes: the progress bar's measure (the number of rows
    is not known before the end)."""

    def __init__(self, raw, progress: _Progress):
        self.raw, self.progress = raw, progress

    def read(self, size=-1):
        data = self.raw.read(size)
        self.progress.bytes += len(data)
        return data

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.progress.bytes += n or 0
        return n

    def readable(self):
        return True

    def __getattr__(self, name):
        return getattr(self.raw, name)


def open_rows(customer_import: CustomerImport, progress: _Progress | None = None):
    """The stored file's rows, `(row number, cells)`; close with `customer_import.file`."""
    customer_import.file.open("rb")
    raw = customer_import.file.file
    fmt = sniff(raw.read(HEAD_BYTES))
    raw.seek(0)
    return read_rows(_CountingReader(raw, progress or _Progress()), fmt)


def _options(customer_import: CustomerImport) -> Options:
    return Options(
        match=customer_import.match,
        mode=customer_import.mode,
        metadata=customer_import.metadata_mode,
        blank=customer_import.blank,
    )


def _start(customer_import: CustomerImport, **fields) -> None:
    fields.setdefault("phase_started_at", timezone.now())
    _update(customer_import, customer_import.status, rows_done=0, bytes_done=0, **fields)


def _update(customer_import: CustomerImport, expect: str, **fields) -> None:
    """Save these fields and renew the lease, if the lease is still ours and the import
    still in status `expect`; else raise LeaseLost. Run in the batch's transaction."""
    fields.setdefault("locked_until", timezone.now() + LEASE)
    updated = CustomerImport.objects.filter(
        pk=customer_import.pk, status=expect, locked_by=customer_import.locked_by
    ).update(modified_at=timezone.now(), **fields)
    if not updated:
        raise LeaseLost
    for name, value in fields.items():
        setattr(customer_import, name, value)


def _finish(customer_import: CustomerImport, expect: str, status: str, **fields) -> None:
    """End the phase in `status` and give the lease up."""
    _update(customer_import, expect, status=status, locked_by="", locked_until=None, **fields)


def _fail(customer_import: CustomerImport, expect: str, error: ImportFileError) -> None:
    _finish(
        customer_import,
        expect,
        CustomerImport.Status.FAILED,
        failure=FAILED_READING + str(error),
        finished_at=timezone.now(),
    )


def _planner(customer_import: CustomerImport, claims) -> Planner:
    return Planner(
        customer_import.organization,
        mappings_of(customer_import),
        _options(customer_import),
        claims,
    )


def _validate(customer_import: CustomerImport, on_batch) -> None:
    status = CustomerImport.Status.VALIDATING
    with transaction.atomic():
        ImportRowError.objects.filter(customer_import=customer_import).delete()
        _start(customer_import, planned_at=timezone.now(), counts={}, changes=[])
    plan, progress, claims = Plan(), _Progress(), DiskClaims()
    planner = _planner(customer_import, claims)
    try:
        for batch in batches(open_rows(customer_import, progress)):
            errors_before = len(plan.errors)
            plan.add(planner.plan(batch))
            with transaction.atomic():
                _update(
                    customer_import,
                    status,
                    rows_done=customer_import.rows_done + len(batch),
                    bytes_done=progress.bytes,
                    counts=plan.counts,
                )
                ImportRowError.objects.bulk_create(
                    ImportRowError(customer_import=customer_import, **_error_fields(e))
                    for e in plan.errors[errors_before:]
                )
            del plan.errors[:]  # stored: memory stays at one batch's
            if on_batch:
                on_batch(customer_import)
        _finish(
            customer_import,
            status,
            CustomerImport.Status.READY,
            counts=plan.counts,
            changes=[
                {"row": row, "action": action, "customer_id": str(pk) if pk else None, "changes": c}
                for row, action, pk, c in plan.changes
            ],
            bytes_done=customer_import.size,
        )
    except ImportFileError as error:
        _fail(customer_import, status, error)
    finally:
        claims.close()
        customer_import.file.close()


def _apply(customer_import: CustomerImport, on_batch) -> None:
    status = CustomerImport.Status.APPLYING
    resumed_from = customer_import.applied_through
    if not resumed_from:
        _start(
            customer_import,
            counts={**customer_import.counts, "created": 0, "updated": 0, "skipped": 0},
        )
    actor = Actor(customer_import.actor_type, customer_import.actor_id, customer_import.actor_name)
    progress = _Progress()
    planner = _planner(customer_import, MemoryClaims())
    try:
        with acting(
            actor=actor,
            source=Source.IMPORT,
            request_id=str(customer_import.pk),
            webhooks=customer_import.send_webhooks,
        ):
            rows = (r for r in open_rows(customer_import, progress) if r[0] > resumed_from)
            for batch in batches(rows):
                _apply_batch(customer_import, planner, batch, progress, status)
                if on_batch:
                    on_batch(customer_import)
        _finish(
            customer_import,
            status,
            CustomerImport.Status.DONE,
            bytes_done=customer_import.size,
            finished_at=timezone.now(),
        )
    except ImportFileError as error:  # the file changed on disk since its dry run
        _fail(customer_import, status, error)
    finally:
        customer_import.file.close()


def _apply_batch(customer_import, planner, batch, progress, status) -> None:
    first, last = batch[0][0], batch[-1][0]
    with transaction.atomic():
        # The import's row, locked: the lease and the place in the file are checked and
        # moved in the same transaction as the batch's rows.
        current = (
            CustomerImport.objects.select_for_update()
            .filter(pk=customer_import.pk, status=status, locked_by=customer_import.locked_by)
            .values_list("applied_through", flat=True)
            .first()
        )
        if current is None or current >= first:
            raise LeaseLost
        refused = set(
            ImportRowError.objects.filter(
                customer_import=customer_import, at_apply=False, row__range=(first, last)
            ).values_list("row", flat=True)
        )
        planner.claims = MemoryClaims()
        result = apply_batch(planner, batch, refused=refused, planned_at=customer_import.planned_at)
        ImportRowError.objects.bulk_create(
            ImportRowError(customer_import=customer_import, at_apply=True, **_error_fields(e))
            for e in result.skipped
        )
        counts = dict(customer_import.counts)
        counts["created"] = counts.get("created", 0) + len(result.created)
        counts["updated"] = counts.get("updated", 0) + len(result.updated)
        counts["skipped"] = counts.get("skipped", 0) + result.skipped_count
        _update(
            customer_import,
            status,
            applied_through=last,
            rows_done=customer_import.rows_done + len(batch),
            bytes_done=progress.bytes,
            counts=counts,
        )


def _error_fields(error) -> dict:
    return {"row": error.row, "column": error.column[:255], "message": error.message}

"""A CSV import: the uploaded file, how its columns map, its options, and where it stands.

An import moves through `validating` (the dry run, in the background) to `ready` (the
preview), then `applying` and `done`; it may be `canceled` while it waits or runs, and
`failed` when the file cannot be read. The job runner (imports.jobs) holds a lease on the
import while it works on it, so one worker at a time does; the apply commits each batch of
rows with `applied_through` (the file's last row applied) in the same transaction, so a
worker killed mid-import resumes after the last committed batch and applies no row twice.
"""

from django.db import models
from django.utils import timezone

from core.ids import uuid7
from organizations.models import Organization


def _upload_path(instance, filename: str) -> str:
    return f"imports/{instance.organization_id}/{instance.id}.csv"


class CustomerImport(models.Model):
    class Status(models.TextChoices):
        VALIDATING = "validating", "Checking the file"
        READY = "ready", "Ready to apply"
        APPLYING = "applying", "Applying"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Match(models.TextChoices):
        EXTERNAL_ID = "external_id", "External ID, then email"
        EMAIL = "email", "Email only"

    class Mode(models.TextChoices):
        UPSERT = "upsert", "Create and update"
        CREATE = "create", "Create only"
        UPDATE = "update", "Update only"

    class MetadataMode(models.TextChoices):
        MERGE = "merge", "Merge (the file's keys win)"
        REPLACE = "replace", "Replace"

    class Blank(models.TextChoices):
        KEEP = "keep", "Keep the stored value"
        CLEAR = "clear", "Clear it"

    WORKING = (Status.VALIDATING, Status.APPLYING)
    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELED)

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(auto_now=True)
    # Who started it, as the timeline names actors (core.changes.Actor).
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=254, blank=True)
    source = models.CharField(max_length=16)

    file = models.FileField(upload_to=_upload_path, max_length=200)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    delimiter = models.CharField(max_length=1)
    header = models.JSONField(default=list, blank=True)
    # [{"index", "header", "target", "metadata_type"}], see imports.mapping.ColumnMapping.
    mapping = models.JSONField(default=list, blank=True)

    match = models.CharField(max_length=16, choices=Match.choices, default=Match.EXTERNAL_ID)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.UPSERT)
    metadata_mode = models.CharField(
        max_length=16, choices=MetadataMode.choices, default=MetadataMode.MERGE
    )
    blank = models.CharField(max_length=16, choices=Blank.choices, default=Blank.KEEP)
    send_webhooks = models.BooleanField(default=True)
    skip_errors = models.BooleanField(default=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALIDATING)
    failure = models.TextField(blank=True)
    # {"create", "update", "unchanged", "error"} from the dry run; {"created", "updated",
    # "skipped"} added by the apply.
    counts = models.JSONField(default=dict, blank=True)
    # The preview's first changes: [{"row", "action", "customer_id", "changes"}].
    changes = models.JSONField(default=list, blank=True)
    # Progress of the phase under way: rows and bytes of the file read so far.
    rows_done = models.PositiveIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    # When the dry run began: a customer changed after it was checked against a state
    # the preview no longer shows, so the apply skips its row (see imports.apply).
    planned_at = models.DateTimeField(null=True, blank=True)
    applied_through = models.PositiveIntegerField(default=0)  # the last row applied
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker on it (imports.jobs).
    locked_by = models.CharField(max_length=32, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "created_at"], name="import_org_created"),
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["validating", "applying"]),
                name="import_working",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def is_working(self) -> bool:
        return self.status in self.WORKING

    @property
    def progress(self) -> float:
        """The share of the phase under way that is done, 0 to 1 (1 once finished)."""
        if self.status in (self.Status.READY, *self.FINISHED):
            return 1.0
        return min(1.0, self.bytes_done / self.size) if self.size else 0.0

    @property
    def rows_per_second(self) -> float:
        if not self.phase_started_at or not self.rows_done:
            return 0.0
        elapsed = (timezone.now() - self.phase_started_at).total_seconds()
        return self.rows_done / elapsed if elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """An estimate from the pace so far, None before there is one."""
        progress = self.progress
        if not self.is_working or not self.phase_started_at or progress <= 0:
            return None
        elapsed = (timezone.now() - self.phase_started_at).total_seconds()
        return max(0.0, elapsed * (1 - progress) / progress)

    @property
    def error_count(self) -> int:
        return self.counts.get("error", 0)


class ImportRowError(models.Model):
    """One error of one row: the file's row number, its column header ("" for the whole
    row) and what is wrong. Found by the dry run, or by the apply when a customer changed
    since (`at_apply`)."""

    customer_import = models.ForeignKey(
        CustomerImport, on_delete=models.CASCADE, related_name="errors", db_index=False
    )
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    message = models.TextField()
    at_apply = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["customer_import", "row"], name="import_error_row")]

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"

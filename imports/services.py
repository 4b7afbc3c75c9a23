"""Writes of imports: start one from an uploaded file, change its mapping, apply it,
cancel it. The work itself runs in the background (imports.jobs)."""

from dataclasses import asdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from core.changes import acting_now
from imports import mapping as m
from imports.models import CustomerImport
from imports.reader import HEAD_BYTES, ImportFileError, sniff


def too_large_message() -> str:
    return (
        f"The file is larger than the {filesizeformat(settings.IMPORT_MAX_BYTES)} an import "
        "takes; split it into several files."
    )


def import_create(
    *,
    organization,
    file,
    filename: str = "",
    mapping: list[m.ColumnMapping] | dict[str, str] | None = None,
    **options,
) -> CustomerImport:
    """Store the file and queue its dry run. `file` is an uploaded file (or any binary
    file object with a `size`); its format is checked from its first bytes now, so a file
    we cannot read is refused at once (ValidationError on `file`), before it is stored.
    `mapping` is a list of ColumnMapping, or {column header: target} changing the
    automatic mapping; options are the model's (`match`, `mode`, `metadata_mode`,
    `blank`, `send_webhooks`)."""
    size = getattr(file, "size", None)
    if size is not None and size > settings.IMPORT_MAX_BYTES:
        raise ValidationError({"file": too_large_message()})
    head = file.read(HEAD_BYTES)
    file.seek(0)
    try:
        fmt = sniff(head)
    except ImportFileError as error:
        raise ValidationError({"file": str(error)}) from None
    mappings = _mapping(fmt.header, mapping)
    actor, source = acting_now().actor, acting_now().source
    customer_import = CustomerImport(
        organization=organization,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name[:254],
        source=source,
        filename=_printable(filename or getattr(file, "name", "") or "import.csv")[-255:],
        size=size or 0,
        delimiter=fmt.delimiter,
        header=list(fmt.header),
        mapping=[asdict(x) for x in mappings],
        **options,
    )
    customer_import.full_clean(exclude=["file", "size", "filename"])
    customer_import.file.save("upload.csv", file, save=False)
    customer_import.size = customer_import.file.size
    customer_import.save()
    return customer_import


def import_remap(
    *, customer_import: CustomerImport, mapping: list[m.ColumnMapping] | dict[str, str], **options
) -> CustomerImport:
    """Change the mapping or options of an import not yet applied, and check it again."""
    with transaction.atomic():
        current = _locked(customer_import)
        if current.status not in (CustomerImport.Status.READY, CustomerImport.Status.VALIDATING):
            raise ValidationError(f"This import is {current.get_status_display().lower()}.")
        current.mapping = [asdict(x) for x in _mapping(tuple(current.header), mapping)]
        for name, value in options.items():
            setattr(current, name, value)
        current.full_clean(exclude=["file"])
        _restart(current, CustomerImport.Status.VALIDATING)
        current.save()
    return current


def import_apply(
    *, customer_import: CustomerImport, skip_errors: bool = False, send_webhooks: bool | None = None
) -> CustomerImport:
    """Queue the apply of a checked import. While the dry run found errors the apply is
    refused, unless `skip_errors` (those rows are then left out)."""
    with transaction.atomic():
        current = _locked(customer_import)
        if current.status != CustomerImport.Status.READY:
            raise ValidationError(
                f"Only an import ready to apply can be applied; this one is "
                f"{current.get_status_display().lower()}."
            )
        errors = current.counts.get("error", 0)
        if errors and not skip_errors:
            raise ValidationError(
                {
                    "skip_errors": f"{errors} row(s) have errors: fix them and upload the file "
                    "again, or skip those rows."
                }
            )
        current.skip_errors = skip_errors
        if send_webhooks is not None:
            current.send_webhooks = send_webhooks
        _restart(current, CustomerImport.Status.APPLYING)
        current.save()
    return current


def import_cancel(*, customer_import: CustomerImport) -> CustomerImport:
    """Stop an import: one being applied stops after the batch under way (the rows
    already applied stay applied, and the counts say how many)."""
    with transaction.atomic():
        current = _locked(customer_import)
        if current.status in CustomerImport.FINISHED:
            raise ValidationError(f"This import is {current.get_status_display().lower()} already.")
        current.status = CustomerImport.Status.CANCELED
        current.finished_at = timezone.now()
        current.locked_by, current.locked_until = "", None
        current.save()
    return current


def _printable(name: str) -> str:
    return "".join(c for c in name if c.isprintable()) or "import.csv"


def _locked(customer_import: CustomerImport) -> CustomerImport:
    return CustomerImport.objects.select_for_update().get(pk=customer_import.pk)


def _restart(current: CustomerImport, status: str) -> None:
    current.status = status
    current.rows_done = current.bytes_done = 0
    current.phase_started_at = None
    current.locked_by, current.locked_until = "", None


def _mapping(header: tuple[str, ...], mapping) -> list[m.ColumnMapping]:
    mappings = m.auto_map(header)
    if isinstance(mapping, dict):
        known = set(header)
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValidationError(
                {"mapping": f"The file has no column {', '.join(map(repr, unknown))}."}
            )
        mappings = [
            m.ColumnMapping(x.index, x.header, *_target(mapping[x.header]))
            if x.header in mapping
            else x
            for x in mappings
        ]
    elif mapping is not None:
        mappings = list(mapping)
    errors = m.mapping_errors(mappings)
    if errors:
        raise ValidationError({"mapping": errors})
    return mappings


def _target(value: str) -> tuple[str, str]:
    """`metadata.plan:integer` → ("metadata.plan", "integer"); a type is optional."""
    target, _, kind = str(value).partition(":")
    return target.strip(), (kind.strip() or m.INFERRED)


def mappings_of(customer_import: CustomerImport) -> list[m.ColumnMapping]:
    return [m.ColumnMapping(**x) for x in customer_import.mapping]

"""`/v1/customer-imports/`: CSV imports through the API.

Our extension, not part of Polar's API (tagged so in the OpenAPI document). The same flow
as the dashboard's: upload the file with its options (multipart), which starts the dry
run in the background; read the import until its `status` is `ready` and look at its
`counts`, `changes` and errors; apply it (refused while rows have errors unless
`skip_errors`); read it again until `done`. Scope `customers:write` throughout.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

import orjson
from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from core.api import ERRORS, ApiError, get_or_404, json_response, validation_error
from imports import services
from imports.errors_csv import errors_csv
from imports.models import CustomerImport
from organizations.api_auth import scopes

TAG = "customer imports (extension)"
TAG_DESCRIPTION = (
    "Our extension, not in Polar's API: import customers from a CSV file, with a dry run "
    "to look at before anything is written, then applied in the background."
)

router = Router(tags=[TAG])
WRITE = scopes("customers:write")


class ImportOptionsIn(Schema):
    match: Literal["external_id", "email"] = Field(
        "external_id",
        description="Match existing customers by external ID then email (ignoring case), "
        "or by email only.",
    )
    mode: Literal["upsert", "create", "update"] = Field(
        "upsert", description="Create and update, create only, or update only."
    )
    metadata: Literal["merge", "replace"] = Field(
        "merge", description="Merge the file's metadata keys into the stored ones, or replace them."
    )
    blank: Literal["keep", "clear"] = Field(
        "keep", description="A blank cell keeps the stored value, or clears it."
    )
    send_webhooks: bool = Field(True, description="Send webhooks for the import's changes.")
    mapping: str | None = Field(
        None,
        description='A JSON object changing the automatic column mapping: {"Column": '
        '"email"}, {"Plan": "metadata.plan:integer"} (a metadata column may take a type: '
        'text, integer, number, yes_no or inferred), {"Notes": "ignore"}.',
    )


class ImportApplyIn(Schema):
    skip_errors: bool = Field(
        False, description="Apply the rows without errors and skip the others."
    )
    send_webhooks: bool | None = Field(None, description="Override the upload's choice.")


class ImportCounts(Schema):
    create: int = 0
    update: int = 0
    unchanged: int = 0
    error: int = 0
    created: int | None = None
    updated: int | None = None
    skipped: int | None = None


class ImportColumn(Schema):
    column: str
    target: str
    metadata_type: str


class ImportChange(Schema):
    row: int
    action: Literal["create", "update"]
    customer_id: UUID | None
    changes: dict[str, list]


class CustomerImportOut(Schema):
    id: UUID
    created_at: datetime
    modified_at: datetime
    filename: str
    size: int = Field(description="The file's size in bytes.")
    status: Literal["validating", "ready", "applying", "done", "failed", "canceled"]
    failure: str | None = Field(description="Why the import failed, when it did.")
    match: str
    mode: str
    metadata: str
    blank: str
    send_webhooks: bool
    skip_errors: bool
    mapping: list[ImportColumn]
    counts: ImportCounts
    progress: float = Field(description="The phase under way, 0 to 1.")
    rows_done: int = Field(description="Rows read by the phase under way.")
    changes: list[ImportChange] = Field(description="The first 200 changes, field by field.")
    errors_url: str = Field(description="The rejected rows as CSV, with an `error` column.")


EMPTY_COUNTS = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
EMPTY_COUNTS |= {"created": None, "updated": None, "skipped": None}


def import_out(request: HttpRequest, customer_import: CustomerImport) -> dict:
    return {
        "id": customer_import.pk,
        "created_at": customer_import.created_at,
        "modified_at": customer_import.modified_at,
        "filename": customer_import.filename,
        "size": customer_import.size,
        "status": customer_import.status,
        "failure": customer_import.failure or None,
        "match": customer_import.match,
        "mode": customer_import.mode,
        "metadata": customer_import.metadata_mode,
        "blank": customer_import.blank,
        "send_webhooks": customer_import.send_webhooks,
        "skip_errors": customer_import.skip_errors,
        "mapping": [
            {"column": c["header"], "target": c["target"], "metadata_type": c["metadata_type"]}
            for c in customer_import.mapping
        ],
        "counts": EMPTY_COUNTS | customer_import.counts,
        "progress": round(customer_import.progress, 4),
        "rows_done": customer_import.rows_done,
        "changes": customer_import.changes,
        "errors_url": request.build_absolute_uri(
            reverse("api:customer_import_errors", args=[customer_import.pk])
        ),
    }


@router.post(
    "/",
    response={201: CustomerImportOut, **ERRORS},
    summary="Start a customer import",
    auth=WRITE,
)
def create_import(request: HttpRequest, file: File[UploadedFile], options: Form[ImportOptionsIn]):
    """Upload a CSV file (multipart, field `file`) and start its dry run in the
    background: nothing is written to customers until the import is applied.

    The file: UTF-8 with or without a byte-order mark, `,` `;` or tab between fields, a
    header line. Our own export's columns map themselves, and so do common names from
    other systems (`Email`, `First Name` + `Last Name`, `Zip`, ...); `metadata.<key>`
    columns fill that key and a `metadata` column holds a JSON object. A file that cannot
    be read is refused at once (422 at `file`, saying what was found); one larger than
    the server's limit is a 413.

    **Scopes**: `customers:write`
    """
    if file.size is not None and file.size > settings.IMPORT_MAX_BYTES:
        raise ApiError(413, "PayloadTooLarge", services.too_large_message())
    mapping = _mapping(options.mapping)
    customer_import = services.import_create(
        organization=request.organization,
        file=file,
        filename=file.name or "",
        mapping=mapping,
        match=options.match,
        mode=options.mode,
        metadata_mode=options.metadata,
        blank=options.blank,
        send_webhooks=options.send_webhooks,
    )
    return json_response(import_out(request, customer_import), status=201)


@router.get(
    "/{id}",
    response={200: CustomerImportOut, **ERRORS},
    summary="Get a customer import",
    auth=WRITE,
)
def get_import(request: HttpRequest, id: str):
    """The import as it stands: its status, counts and progress.

    **Scopes**: `customers:write`
    """
    return json_response(import_out(request, _import(request, id)))


@router.get(
    "/{id}/errors",
    response={200: None, **ERRORS},
    summary="Get a customer import's rejected rows",
    auth=WRITE,
    url_name="customer_import_errors",
    openapi_extra={"responses": {"200": {"content": {"text/csv": {}}}}},
)
def get_import_errors(request: HttpRequest, id: str):
    """The rows with errors, as CSV: the file's own columns and an `error` column, fit to
    fix in a spreadsheet and upload again.

    **Scopes**: `customers:write`
    """
    customer_import = _import(request, id)
    response = StreamingHttpResponse(errors_csv(customer_import), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="import-{customer_import.pk}-errors.csv"'
    )
    return response


@router.post(
    "/{id}/apply",
    response={200: CustomerImportOut, **ERRORS},
    summary="Apply a customer import",
    auth=WRITE,
)
def apply_import(request: HttpRequest, id: str, payload: ImportApplyIn | None = None):
    """Apply a `ready` import in the background (status `applying`, then `done`).
    Refused (422) while rows have errors, unless `skip_errors`. A customer changed after
    the dry run began is skipped rather than overwritten, with the reason among the
    errors.

    **Scopes**: `customers:write`
    """
    payload = payload or ImportApplyIn()
    customer_import = services.import_apply(
        customer_import=_import(request, id),
        skip_errors=payload.skip_errors,
        send_webhooks=payload.send_webhooks,
    )
    return json_response(import_out(request, customer_import))


@router.post(
    "/{id}/cancel",
    response={200: CustomerImportOut, **ERRORS},
    summary="Cancel a customer import",
    auth=WRITE,
)
def cancel_import(request: HttpRequest, id: str):
    """Stop an import that is being checked, waiting to be applied or being applied; an
    apply stops after the batch under way, and the rows already applied stay applied.

    **Scopes**: `customers:write`
    """
    customer_import = services.import_cancel(customer_import=_import(request, id))
    return json_response(import_out(request, customer_import))


def _import(request: HttpRequest, id: str) -> CustomerImport:
    return get_or_404(CustomerImport.objects.filter(organization=request.organization), id)


def _mapping(raw: str | None) -> dict[str, str] | None:
    if raw is None or not raw.strip():
        return None
    try:
        mapping = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise validation_error(["form", "mapping"], "Mapping is not valid JSON.", raw) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and "\x00" not in k + v
        for k, v in mapping.items()
    ):
        raise validation_error(
            ["form", "mapping"], "Mapping must be an object of column: target strings.", raw
        )
    return mapping

"""The dashboard's Customers → Import pages (issue 15).

The upload page takes a CSV and its options and lists the organization's recent imports;
the import's own page follows it through its statuses: a progress bar while it is checked
or applied (polled by HTMX, a partial that stops polling once the import has finished),
then the preview (counts, mapping, diffs, errors, the apply form), then the result. Every
form also works as a plain POST without JavaScript.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.changes import Source
from core.forms import add_validation_errors
from customers.models import Customer
from imports import services
from imports.access import get_import_or_404
from imports.errors_csv import errors_csv
from imports.forms import ImportApplyForm, ImportMappingForm, ImportUploadForm
from imports.models import CustomerImport, ImportRowError
from imports.uploads import ImportSizeLimitHandler, upload_was_too_large
from organizations.access import get_membership_or_404

TEMPLATE = "imports/import_detail.html"
RECENT_IMPORTS = 20
ERRORS_SHOWN = 50
CUSTOMERS_SHOWN = 50


@login_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The upload form and the recent imports. The size limit's upload handler must be
    installed before anything reads the body, and CsrfViewMiddleware reads it (for the
    token) before the view runs: so the view is exempt from the middleware and checks the
    token itself, after installing the handler (Django's "modifying upload handlers on the
    fly")."""
    request.upload_handlers.insert(0, ImportSizeLimitHandler(request))
    return _import_upload(request, org_slug)


@csrf_protect
def _import_upload(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = get_membership_or_404(request, org_slug)
    organization = membership.organization
    form = ImportUploadForm()
    status = 200
    if request.method == "POST":
        request.POST  # noqa: B018 (parses the upload, through the size limit's handler)
        if upload_was_too_large(request):
            # The fields after the file were never read: keep what came, default the rest.
            form = ImportUploadForm({**ImportUploadForm.defaults(), **request.POST.dict()})
            form.is_valid()
            form.errors["file"] = form.error_class([services.too_large_message()])
        else:
            form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                customer_import = services.import_create(
                    organization=organization,
                    file=upload,
                    filename=upload.name,
                    **form.options(),
                )
            except ValidationError as error:
                add_validation_errors(form, error)
            else:
                return redirect("imports:detail", org_slug, customer_import.pk)
        status = 422
    recent = list(
        CustomerImport.objects.filter(organization=organization)
        .only("id", "created_at", "filename", "status", "counts", "actor_name", "size")
        .order_by("-created_at")[:RECENT_IMPORTS]
    )
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "recent": recent,
    }
    return render(request, "imports/import_upload.html", context, status=status)


@login_required
@require_GET
def import_detail(request: HttpRequest, org_slug: str, import_id) -> HttpResponse:
    """The import's page; an HTMX request (the progress bar's poll) gets its status part."""
    membership, customer_import = get_import_or_404(request, org_slug, import_id)
    return _status_response(request, membership, customer_import)


@login_required
@require_POST
def import_remap(request: HttpRequest, org_slug: str, import_id) -> HttpResponse:
    """Change the column mapping of an import not yet applied, and check it again."""
    membership, customer_import = get_import_or_404(request, org_slug, import_id)
    form = ImportMappingForm(services.mappings_of(customer_import), request.POST)
    if form.is_valid():
        try:
            customer_import = services.import_remap(
                customer_import=customer_import, mapping=form.mapping()
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            return _after_write(request, membership, customer_import)
    return _status_response(request, membership, customer_import, mapping_form=form, status=422)


@login_required
@require_POST
def import_apply(request: HttpRequest, org_slug: str, import_id) -> HttpResponse:
    membership, customer_import = get_import_or_404(request, org_slug, import_id)
    form = ImportApplyForm(request.POST)
    if form.is_valid():
        try:
            customer_import = services.import_apply(
                customer_import=customer_import,
                skip_errors=form.cleaned_data["skip_errors"],
                send_webhooks=not form.cleaned_data["no_webhooks"],
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            return _after_write(request, membership, customer_import)
    return _status_response(request, membership, customer_import, apply_form=form, status=422)


@login_required
@require_POST
def import_cancel(request: HttpRequest, org_slug: str, import_id) -> HttpResponse:
    membership, customer_import = get_import_or_404(request, org_slug, import_id)
    try:
        customer_import = services.import_cancel(customer_import=customer_import)
    except ValidationError as error:
        # Finished meanwhile: show it as it is now, saying why nothing was canceled.
        customer_import.refresh_from_db()
        return _status_response(
            request, membership, customer_import, notice=" ".join(error.messages), status=409
        )
    return _after_write(request, membership, customer_import)


@login_required
@require_GET
def import_errors_csv(request: HttpRequest, org_slug: str, import_id) -> HttpResponse:
    """The rejected rows as they were uploaded, with an `error` column, streamed."""
    _membership, customer_import = get_import_or_404(request, org_slug, import_id)
    response = StreamingHttpResponse(
        errors_csv(customer_import), content_type="text/csv; charset=utf-8"
    )
    stem = customer_import.filename.rsplit(".", 1)[0] or "import"
    filename = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)[:80]
    response["Content-Disposition"] = f'attachment; filename="{filename}-rejected-rows.csv"'
    return response


# --- The status part: one partial for every status --------------------------------------


def _after_write(request, membership, customer_import) -> HttpResponse:
    """HTMX gets the status part as it is now (polling again if work is queued); a plain
    form post goes back to the import's page."""
    if request.htmx:
        return _status_response(request, membership, customer_import)
    return redirect("imports:detail", membership.organization.slug, customer_import.pk)


def _status_response(request, membership, customer_import, *, status: int = 200, **extra):
    context = _context(membership, customer_import, **extra)
    name = f"{TEMPLATE}#status" if request.htmx else TEMPLATE
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _context(
    membership, customer_import, *, mapping_form=None, apply_form=None, notice=None
) -> dict:
    """What the page shows for the import's status. Queries: the errors' first page (ready,
    done, canceled) and, once done, the first created and updated customers (one each)."""
    org_slug = membership.organization.slug
    Status = CustomerImport.Status
    status = customer_import.status
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer_import": customer_import,
        "notice": notice,
        "detail_url": reverse("imports:detail", args=[org_slug, customer_import.pk]),
        "percent": round(customer_import.progress * 100),
        "rows_per_second": round(customer_import.rows_per_second),
        "time_left": _time_left(customer_import.seconds_left),
        "counts": customer_import.counts,
    }
    if status in (Status.READY, Status.DONE, Status.CANCELED) or (
        status == Status.APPLYING and customer_import.error_count
    ):
        context["errors"] = list(
            ImportRowError.objects.filter(customer_import=customer_import).order_by("row", "pk")[
                :ERRORS_SHOWN
            ]
        )
    if status == Status.READY:
        mappings = services.mappings_of(customer_import)
        context["mapping_form"] = mapping_form or ImportMappingForm(mappings)
        context["apply_form"] = apply_form or ImportApplyForm(
            initial={"no_webhooks": not customer_import.send_webhooks}
        )
        context["changes"] = _changes(customer_import.changes)
    if status in (Status.DONE, Status.CANCELED) and "created" in customer_import.counts:
        context["imported"] = [
            _group(customer_import, "created", "Created customers", "customer.created"),
            _group(customer_import, "updated", "Updated customers", "customer.updated"),
        ]
    return context


def _group(customer_import, count: str, title: str, entry_type: str) -> dict:
    customers = _imported_customers(customer_import, entry_type)
    total = customer_import.counts.get(count, 0)
    return {
        "id": count,
        "title": title,
        "customers": customers,
        "more": max(0, total - len(customers)),
    }


def _time_left(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _changes(changes: list[dict]) -> list[dict]:
    """The preview's diffs, each field as (label, old, new)."""
    return [
        {
            **change,
            "fields": [
                {"field": field, "old": old, "new": new}
                for field, (old, new) in change["changes"].items()
            ],
        }
        for change in changes
    ]


def _imported_customers(customer_import, entry_type: str) -> list[Customer]:
    """The live customers this import created (or updated), first written first, through
    the timeline entries the apply wrote (source "import", the import's ID as request).
    The entries are read by the organization's (organization, created_at) index from the
    start of the apply, so the read is the import's own window, not the whole log. Read
    through Customer's reverse relation: imports sits beside activity, never importing it."""
    return list(
        Customer.objects.for_org(customer_import.organization_id)
        .filter(
            timeline__organization_id=customer_import.organization_id,
            timeline__created_at__gte=customer_import.phase_started_at
            or customer_import.created_at,
            timeline__source=Source.IMPORT,
            timeline__request_id=str(customer_import.pk),
            timeline__type=entry_type,
        )
        .only("id", "email", "name", "external_id")
        .order_by("timeline__created_at", "pk")[:CUSTOMERS_SHOWN]
    )

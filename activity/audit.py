"""Settings → Audit log (owners only): every timeline entry of the organization, newest
first, filtered by actor, type, customer and dates, and the same as a streamed CSV.

Like the other settings pages: members get 403, anonymous visitors go to sign in, other
organizations are 404. Pages are keyset paged over `entry_org_created` (organization,
created_at, id), and by `entry_org_actor_created` (organization, actor_type, actor_id,
created_at) when one actor is chosen, so a page deep in ten million entries costs what the
first does.
"""

import csv
import json
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from activity.api import ENTRY_TYPES
from activity.models import Entry, actor_name_of
from activity.services import ORGANIZATION_TYPES
from core.changes import ActorType
from core.paging import InvalidCursor, keyset_page
from core.views import bad_request
from customers.export import csv_cell_encode
from customers.models import Customer
from organizations.access import get_membership_or_404
from organizations.models import Membership, OrganizationAccessToken

PAGE_SIZE = 50
EXPORT_BATCH = 2000
# Actors chosen by kind alone: there are too many buyers to list, and staff and the
# system are one actor each as far as a merchant can tell.
KIND_ACTORS = {
    ActorType.BUYER: "Buyers at checkout",
    ActorType.CUSTOMER: "Customers in the portal",
    ActorType.STAFF: "Our staff (admin)",
    ActorType.SYSTEM: "System (renewals, worker, commands)",
}
CSV_COLUMNS = [
    "created_at",
    "type",
    "customer_id",
    "customer_email",
    "customer_external_id",
    "actor_type",
    "actor_id",
    "actor_name",
    "source",
    "request_id",
    "subject_id",
    "changes",
]
ENTRY_COLUMNS = ("id", "created_at", "type", "customer_id", "actor_type", "actor_id")
ENTRY_COLUMNS += ("actor_name", "source", "request_id", "subject_id", "changes")
# Read with the entries (their join): the customer's columns shown, and its name, email
# and erased_at, whose name is shown for an actor who is the customer (actor_name_of).
CUSTOMER_COLUMNS = ("customer__email", "customer__external_id", "customer__deleted_at")
CUSTOMER_COLUMNS += ("customer__name", "customer__erased_at")


class AuditLogFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=100)
    type = forms.ChoiceField(
        required=False,
        choices=[("", "Any type"), *((t, t) for t in sorted({*ENTRY_TYPES, *ORGANIZATION_TYPES}))],
    )
    customer = forms.CharField(
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": "ID, external ID or email"}),
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_actor(self) -> tuple[str, str | None] | None:
        """`type` (every actor of a kind) or `type:id` (one actor), as the select and the
        actor links in the rows write it."""
        value = self.cleaned_data["actor"].strip()
        if not value:
            return None
        kind, _, actor_id = value.partition(":")
        if kind not in ActorType.__members__.values() or (not actor_id and kind not in KIND_ACTORS):
            raise forms.ValidationError("Choose an actor from the list.")
        return kind, actor_id or None

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "The end date comes before the start date.")
        return data


@login_required
@require_GET
def audit_log(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's entries, newest first, 50 at a time."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    form = AuditLogFilterForm(_filters_of(request))
    page, status = None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        entries = _filtered(organization, form)
        try:
            page = keyset_page(
                entries.select_related("customer").only(*ENTRY_COLUMNS, *CUSTOMER_COLUMNS),
                field="created_at",
                descending=True,
                cursor=request.GET.get("cursor"),
                limit=PAGE_SIZE,
            )
        except InvalidCursor as error:
            return bad_request(str(error))

    def log_url(name: str = "audit:log", **changes) -> str:
        params = {k: v for k, v in request.GET.items() if k != "cursor"} | changes
        query = urlencode({k: v for k, v in params.items() if v})
        path = reverse(name, args=[org_slug])
        return f"{path}?{query}" if query else path

    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "actors": _actor_options(organization, form.data.get("actor", "")),
        "rows": [_row(entry, organization) for entry in page.rows] if page else [],
        "filtered": any(form.data.get(k) for k in form.fields) if form.is_bound else False,
        "newest_url": log_url() if request.GET.get("cursor") else None,
        "older_url": page and page.next_cursor and log_url(cursor=page.next_cursor),
        "export_url": log_url("audit:export"),
        "clear_url": reverse("audit:log", args=[org_slug]),
    }
    name = "activity/audit_log.html#log" if request.htmx else "activity/audit_log.html"
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def audit_log_export(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The entries the page's filters choose, every one of them, as CSV: streamed a batch at
    a time (keyset paged, so memory stays flat and no cursor is held open between batches);
    every text cell is made safe from spreadsheet formulas (customers.export)."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    form = AuditLogFilterForm(_filters_of(request))
    if form.is_bound and not form.is_valid():
        return bad_request("; ".join(e for errors in form.errors.values() for e in errors))
    entries = _filtered(organization, form)
    response = StreamingHttpResponse(_csv_lines(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-log-{organization.slug}-{stamp}.csv"'
    )
    return response


# --- Helpers ----------------------------------------------------------------------------


def _filtered(organization, form: AuditLogFilterForm) -> QuerySet:
    data = form.cleaned_data if form.is_bound else {}
    if data.get("customer"):
        # The customers are the organization's already: naming the organization as well
        # would let PostgreSQL walk the organization's index through everyone's entries
        # instead of each customer's own (customer, created_at, id) range.
        entries = Entry.objects.filter(
            customer_id__in=_customer_ids(organization, data["customer"])
        )
    else:
        entries = Entry.objects.filter(organization=organization)
    if data.get("actor"):
        kind, actor_id = data["actor"]
        entries = entries.filter(actor_type=kind)
        if actor_id is not None:
            entries = entries.filter(actor_id=actor_id)
    if data.get("type"):
        entries = entries.filter(type=data["type"])
    zone = timezone.get_current_timezone()
    if data.get("start"):
        entries = entries.filter(created_at__gte=datetime.combine(data["start"], time(), zone))
    if data.get("end"):
        end = datetime.combine(data["end"] + timedelta(days=1), time(), zone)
        entries = entries.filter(created_at__lt=end)
    return entries


def _customer_ids(organization, text: str) -> list:
    """The customers (deleted ones too: their entries stay) a customer filter names: by
    ID, by external ID, or by email (case-insensitive). Read first, so the entries' query
    is a range of the customer index per customer, not a join over the organization."""
    text = text.strip()
    condition = Q(external_id=text) | Q(email__iexact=text)
    with suppress(ValueError):
        condition |= Q(pk=UUID(text))
    return list(
        Customer.objects.filter(condition, organization=organization).values_list("pk", flat=True)
    )


def _filters_of(request: HttpRequest):
    """The filters sent (the cursor is the page's, not a filter); None for none, so an
    unfiltered page is an unbound form."""
    data = {k: v for k, v in request.GET.items() if k in AuditLogFilterForm.base_fields}
    return data if any(data.values()) else None


def _actor_options(organization, chosen: str) -> list[dict]:
    """The select's actors: the organization's members and API tokens (revoked ones too:
    their entries stay), then the kinds of actor listed as one. An actor chosen by a link
    in a row (a former member, one buyer) is added, so the select shows what is filtered."""
    members = Membership.objects.filter(organization=organization).select_related("user")
    tokens = OrganizationAccessToken.objects.filter(organization=organization).order_by("name")
    people = sorted(
        (m.user.get_full_name() or m.user.get_username(), m.user.pk, m.get_role_display().lower())
        for m in members
    )
    options = [
        *((f"user:{pk}", f"{name} ({role})") for name, pk, role in people),
        *((f"token:{t.pk}", f"{t.name} (API token {t.token_prefix}…)") for t in tokens),
        *((str(kind), label) for kind, label in KIND_ACTORS.items()),
    ]
    if chosen and chosen not in {value for value, _ in options}:
        options.append((chosen, chosen))
    return [{"value": v, "label": label, "selected": v == chosen} for v, label in options]


def _row(entry: Entry, organization) -> dict:
    customer = entry.customer
    return {
        "entry": entry,
        "customer": customer,
        "customer_url": None
        if customer is None or customer.deleted_at
        else reverse("customers:detail", args=[organization.slug, customer.pk]),
        "actor_name": actor_name_of(entry, customer) or entry.actor_type,
        "actor_value": f"{entry.actor_type}:{entry.actor_id}"
        if entry.actor_id
        else entry.actor_type,
        "changes": [
            {"field": field, "old": _shown(values[0]), "new": _shown(values[-1])}
            for field, values in entry.changes.items()
            if isinstance(values, list) and values
        ],
    }


def _shown(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(CSV_COLUMNS)
    rows = entries.select_related("customer").only(*ENTRY_COLUMNS, *CUSTOMER_COLUMNS)
    cursor = None
    while True:
        page = keyset_page(
            rows, field="created_at", descending=True, cursor=cursor, limit=EXPORT_BATCH
        )
        yield "".join(writer.writerow(_csv_row(entry)) for entry in page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _csv_row(entry: Entry) -> list[str]:
    created = entry.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = [
        entry.type,
        str(entry.customer_id or ""),
        entry.customer.email if entry.customer else "",
        (entry.customer.external_id if entry.customer else None) or "",
        entry.actor_type,
        entry.actor_id,
        actor_name_of(entry, entry.customer),
        entry.source,
        entry.request_id,
        str(entry.subject_id or ""),
        json.dumps(entry.changes, ensure_ascii=False, sort_keys=True, default=str),
    ]
    return [created, *(csv_cell_encode(value) for value in text)]


def _owners_only(request: HttpRequest, membership: Membership) -> HttpResponse:
    """403 for members: they may know the organization exists, but not read its log."""
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "organizations/forbidden.html", context, status=403)

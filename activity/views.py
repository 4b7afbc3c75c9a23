"""The customer's timeline and notes on the dashboard.

The customer page loads the panel (`timeline.html#panel`) from here with HTMX and links
here without JavaScript (customers sits below activity, so it names this app only by
URL). Each note write answers an HTMX request with the panel brought up to date, and a
plain form post with a redirect to the timeline page.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from activity import display, services
from activity.access import get_note_or_404
from activity.forms import NoteForm
from activity.models import Entry, Note
from activity.querysets import TIMELINE_KINDS
from core.forms import add_validation_errors
from core.paging import InvalidCursor, decode_cursor, keyset_page
from core.views import bad_request
from customers.access import get_customer_or_404

TEMPLATE = "activity/timeline.html"
NOTE_TEMPLATE = "activity/note_detail.html"
PAGE_SIZE = 25


def _render(request, template: str, partial: str | None, context: dict, status: int = 200):
    """The whole page, or `partial` of the timeline template for an HTMX request."""
    name = f"{TEMPLATE}#{partial}" if request.htmx and partial else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _kind(value: str | None) -> str:
    return value if value in TIMELINE_KINDS else "all"


def _timeline_url(org_slug: str, customer, **query) -> str:
    url = reverse("activity:timeline", args=[org_slug, customer.pk])
    query = {k: v for k, v in query.items() if v and v != "all"}
    return f"{url}?{urlencode(query)}" if query else url


def _context(request, membership, customer, *, kind: str = "all", cursor: str | None = None):
    """Everything the panel shows: one page of entries (query 1), the notes they are about
    and the pinned ones (query 2). InvalidCursor for a damaged cursor."""
    org_slug = membership.organization.slug
    page = keyset_page(
        Entry.objects.for_customer(customer).of_kind(kind),
        field="created_at",
        descending=True,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    notes = list(Note.objects.for_timeline(customer, page.rows))
    for note in notes:
        note.can_edit = note.editable_by(membership)
        note.can_remove = note.removable_by(membership)
    now = timezone.now()
    continues = None
    # Load more appends to the day shown last; a page of its own shows its first day.
    if cursor and request.htmx:
        continues = timezone.localdate(decode_cursor(cursor, field="created_at")[0])
    rows = display.rows_of(page.rows, {note.pk: note for note in notes}, now, customer)
    return {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "kind": kind,
        "chips": [
            {
                "kind": key,
                "label": label,
                "url": _timeline_url(org_slug, customer, kind=key),
                "current": key == kind,
            }
            for key, (label, _prefixes) in TIMELINE_KINDS.items()
        ],
        "days": display.days_of(rows, today=timezone.localdate(now), continues=continues),
        "cursor": cursor,
        "next_url": page.next_cursor
        and _timeline_url(org_slug, customer, kind=kind, cursor=page.next_cursor),
        "first_url": _timeline_url(org_slug, customer, kind=kind),
        "pinned_notes": [note for note in notes if note.pinned],
        "form": NoteForm(),
    }


@login_required
@require_GET
def timeline(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """The customer's timeline: the panel the customer page loads, the feed of one filter
    chip, the next page of entries (Load more), or all of it as a page of its own."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    cursor = request.GET.get("cursor") or None
    try:
        context = _context(
            request, membership, customer, kind=_kind(request.GET.get("kind")), cursor=cursor
        )
    except InvalidCursor as error:
        return bad_request(str(error))
    if cursor:
        partial = "entries"
    elif request.htmx and request.htmx.target == "timeline-feed":
        partial = "feed"
    else:
        partial = "panel"
    return _render(request, TEMPLATE, partial, context)


@login_required
@require_POST
def note_add(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(customer=customer, body=form.cleaned_data["body"], member=membership)
        except ValidationError as error:
            add_validation_errors(form, error)
    if form.errors:
        context = {**_context(request, membership, customer), "form": form}
        response = _render(request, TEMPLATE, "note_form", context, status=422)
        return retarget(response, "#note-add") if request.htmx else response
    return _done(request, membership, customer, "Note added.")


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request: HttpRequest, org_slug: str, customer_id, note_id) -> HttpResponse:
    membership, customer, note = get_note_or_404(request, org_slug, customer_id, note_id)
    if not note.editable_by(membership):
        raise PermissionDenied("Only its author can edit a note.")
    form = NoteForm(request.POST or None, initial={"body": note.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.note_edit(note=note, body=form.cleaned_data["body"], member=membership)
        except Note.DoesNotExist:
            raise Http404("No such note.") from None
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            return _done(request, membership, customer, "Note saved.")
    return _note_card(request, membership, customer, note, mode="edit", form=form)


@login_required
@require_http_methods(["GET", "POST"])
def note_delete(request: HttpRequest, org_slug: str, customer_id, note_id) -> HttpResponse:
    """GET asks in the page (the note becomes the question); POST deletes."""
    membership, customer, note = get_note_or_404(request, org_slug, customer_id, note_id)
    if not note.removable_by(membership):
        raise PermissionDenied("Only its author or an owner can delete a note.")
    if request.method == "GET":
        return _note_card(request, membership, customer, note, mode="confirm")
    try:
        services.note_delete(note=note, member=membership)
    except Note.DoesNotExist:
        raise Http404("No such note.") from None
    return _done(request, membership, customer, "Note deleted.")


@login_required
@require_POST
def note_pin(request: HttpRequest, org_slug: str, customer_id, note_id) -> HttpResponse:
    membership, customer, note = get_note_or_404(request, org_slug, customer_id, note_id)
    pinned = request.POST.get("pinned") == "1"
    try:
        services.note_pin(note=note, pinned=pinned, member=membership)
    except Note.DoesNotExist:
        raise Http404("No such note.") from None
    except ValidationError as error:
        return _done(request, membership, customer, " ".join(error.messages), error=True)
    return _done(request, membership, customer, "Note pinned." if pinned else "Note unpinned.")


@login_required
@require_GET
def note_detail(request: HttpRequest, org_slug: str, customer_id, note_id) -> HttpResponse:
    """One note, where the timeline's entries about it link."""
    membership, customer, note = get_note_or_404(request, org_slug, customer_id, note_id)
    return _note_card(request, membership, customer, note, mode="")


def _note_card(request, membership, customer, note, *, mode: str, form=None) -> HttpResponse:
    """The note in place (editing it, or asking whether to delete it) for HTMX; its own
    page otherwise."""
    note.can_edit = note.editable_by(membership)
    note.can_remove = note.removable_by(membership)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "note": note,
        "note_mode": mode,
        "note_form": form,
        "standalone": not request.htmx,
    }
    status = 422 if form is not None and form.errors else 200
    if request.htmx:
        return _render(request, NOTE_TEMPLATE, "note", context, status=status)
    return _render(request, NOTE_TEMPLATE, None, context, status=status)


def _done(request, membership, customer, message: str, *, error: bool = False) -> HttpResponse:
    """After a note write: the panel up to date (HTMX), or back to the timeline page."""
    if request.htmx:
        context = _context(request, membership, customer)
        context["notes_error" if error else "notes_notice"] = message
        return retarget(_render(request, TEMPLATE, "panel", context), "#activity")
    (messages.error if error else messages.success)(request, message)
    return redirect("activity:timeline", membership.organization.slug, customer.pk)

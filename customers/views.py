"""Merchant dashboard pages for customers.

Thin views: load through an access helper, validate with a form, call a service, render.
One template per page; HTMX requests get the page's partial (`template#partial`) instead
of the whole page, and every form also works as a plain POST without JavaScript.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.db.models import OuterRef
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from core.forms import add_validation_errors
from core.paging import InvalidCursor, keyset_page
from core.replicas import statement_budget
from core.timezones import day_range_bounds, zone
from core.views import bad_request
from customers import services
from customers.access import get_customer_or_404
from customers.countries import country_name
from customers.export import csv_pieces
from customers.forms import (
    DAMAGED_FORM_MESSAGE,
    SEGMENT_PARAMS,
    VALUE_TYPE_LABELS,
    VALUE_TYPES,
    YES_NO_CHOICES,
    CustomerCreateForm,
    CustomerListForm,
    CustomerProfileForm,
    MetadataEditForm,
    MetadataEntryForm,
    MetadataFilterForm,
    MetadataRemoveForm,
    shown_value,
    stored_as,
    value_type,
)
from customers.list_rows import customer_rows_html
from customers.models import Customer
from customers.querysets import (
    SORTINGS,
    ListCount,
    count_listed,
    live_customers_up_to,
    mark_active_subscriptions,
    metadata_filters,
    metadata_suggestions,
)
from orders.metrics import customer_metrics
from orders.models import Order
from organizations.access import get_membership_or_404
from organizations.models import Membership

LIST_PAGE_SIZE = 50
# How long a search may try the path that is fast when few rows match (see _customer_page).
SEARCH_FAST_PATH_MS = 60
# How long a segment's page may walk the sort index before sorting the segment instead.
SEGMENT_WALK_MS = 100
ORDERS_PAGE_SIZE = 10
WEBHOOK_LINKS_SHOWN = 5


def _render(request, template: str, partial: str, context: dict, status: int = 200):
    """The whole page, or just `partial` of it for an HTMX request."""
    name = f"{template}#{partial}" if request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


# The chooser counts each organization's customers exactly up to this many.
CHOOSER_COUNT_UP_TO = 10_000


@login_required
@require_GET
def dashboard_home(request: HttpRequest) -> HttpResponse:
    """Send the merchant to their organization's overview, or let them pick one, each
    with its customer count (one query for all of them). Here, not in organizations/, since
    the counts are customers' (organizations sit below customers)."""
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("organization")
        .annotate(customers=live_customers_up_to(OuterRef("organization_id"), CHOOSER_COUNT_UP_TO))
        .order_by("organization__name")
    )
    if len(memberships) == 1:
        return redirect("analytics:overview", memberships[0].organization.slug)
    choices = [
        {
            "organization": m.organization,
            "membership": m,
            "customers": ListCount(CHOOSER_COUNT_UP_TO, exact=False)
            if m.customers > CHOOSER_COUNT_UP_TO
            else ListCount(m.customers),
        }
        for m in memberships
    ]
    return render(request, "organizations/choose.html", {"choices": choices})


@login_required
@require_GET
def customer_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = get_membership_or_404(request, org_slug)
    organization = membership.organization
    if "filter_key" in request.GET:
        return _redirect_with_metadata_filter(request, org_slug)
    form = CustomerListForm(request.GET)
    if not form.is_valid():
        return bad_request(_first_error(form))
    query, active, sorting = (form.cleaned_data[k] for k in ("query", "active", "sorting"))
    column = form.cleaned_data["column"]
    filters = metadata_filters(request.GET)
    segments = form.segments()

    customers = _listed(organization, query, active, filters, _segment_bounds(form, organization))
    try:
        page = _customer_page(
            customers.with_figures(),
            query=query,
            segmented=bool(segments),
            field=SORTINGS[sorting.lstrip("-")],
            descending=sorting.startswith("-"),
            cursor=request.GET.get("cursor"),
        )
    except InvalidCursor as error:
        return bad_request(str(error))
    mark_active_subscriptions(page.rows)
    _mark_column(page.rows, column)

    state = _list_state(query, active, sorting, filters, column, segments)
    context = {
        "membership": membership,
        "organization": organization,
        "list_url": reverse("customers:list", args=[org_slug]),
        "form": form,
        "page": page,
        "filters": [
            {
                "key": key,
                "value": value,
                "remove_url": _list_url(org_slug, state, drop=(key, value)),
            }
            for key, values in filters.items()
            for value in values
        ],
        "segments": [
            {
                **segment,
                "remove_url": _list_url(org_slug, [p for p in state if p not in segment["params"]]),
            }
            for segment in segments
        ],
        "column": column,
        "rows_html": customer_rows_html(page.rows, org_slug=org_slug, column=column),
        "is_filtered": bool(query or active is not None or filters or segments),
        "is_first_page": not request.GET.get("cursor"),
        "next_url": page.next_cursor and _list_url(org_slug, state, cursor=page.next_cursor),
        "export_url": _list_url(
            org_slug, [(k, v) for k, v in state if k != "sorting"], view="customers:export"
        ),
    }
    # "Load more" asks for rows only; the search form asks for the whole result block.
    partial = "rows" if request.htmx and not context["is_first_page"] else "results"
    if partial == "results":
        context["count"] = count_listed(
            customers,
            organization=organization,
            filters=filters,
            searched=bool(query),
            active=active,
            segmented=bool(segments),
        )
    if not request.htmx:  # the suggestions sit outside the results an HTMX search swaps
        context["metadata_suggestions"] = metadata_suggestions(organization)
        context["column_suggested"] = column in {s["key"] for s in context["metadata_suggestions"]}
    return _render(request, "customers/customer_list.html", partial, context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = get_membership_or_404(request, org_slug)
    form = CustomerCreateForm(
        request.POST or None, instance=Customer(organization=membership.organization)
    )
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                organization=membership.organization,
                metadata=form.cleaned_data["metadata"],
                **{k: v for k, v in form.changes().items()},
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            messages.success(request, f"Customer {customer.display_name} created.")
            return redirect("customers:detail", org_slug, customer.pk)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "form": form,
        "value_types": VALUE_TYPES,
        "yes_no_choices": YES_NO_CHOICES,
    }
    return render(
        request, "customers/customer_create.html", context, status=_form_status(request, form)
    )


@login_required
@require_GET
def customer_detail(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    context = detail_context(request, membership, customer)
    return render(request, "customers/customer_detail.html", context)


@login_required
@require_GET
def customer_orders(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """Older orders, a page at a time (the detail page shows the newest)."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    try:
        orders = _orders_page(customer, request.GET.get("cursor"))
    except InvalidCursor as error:
        return bad_request(str(error))
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "orders": orders,
        "orders_next_url": _orders_next_url(org_slug, customer, orders),
    }
    if request.htmx:
        return _render(request, "customers/customer_detail.html", "order_rows", context)
    return render(request, "customers/customer_orders.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    form = CustomerProfileForm(request.POST or None, instance=customer)
    stale = damaged = None
    if request.method == "POST" and not form.is_valid() and form.token_is_damaged:
        # Nothing to check the edit against: show what is stored, save nothing.
        damaged = DAMAGED_FORM_MESSAGE
        form = CustomerProfileForm(instance=customer)
    elif request.method == "POST" and form.is_valid():
        try:
            services.customer_update(
                customer=customer,
                expected_version=form.cleaned_data["version"],
                **form.changes(),
            )
        except services.StaleCustomerError as error:
            stale = _stale_changes(form, error.current)
            # Show what is stored now, so the editor can re-apply their change knowingly.
            form = CustomerProfileForm(instance=error.current)
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            messages.success(request, "Profile saved.")
            return redirect("customers:detail", org_slug, customer.pk)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "form": form,
        "stale": stale,
        "damaged": damaged,
    }
    if damaged:
        status = 400
    elif stale is not None:
        status = 409
    else:
        status = _form_status(request, form)
    return render(request, "customers/customer_edit.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def customer_delete(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    error = None
    if request.method == "POST":
        typed = request.POST.get("confirm_email", "").strip()
        if typed.lower() == customer.email.lower():
            services.customer_delete(customer=customer)
            messages.success(request, f"Customer {customer.email} deleted.")
            return redirect("customers:list", org_slug)
        error = "Type the customer's email exactly to confirm."
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "error": error,
        "ongoing_subscriptions": customer.subscriptions.ongoing().count(),
    }
    return render(request, "customers/customer_delete.html", context, status=422 if error else 200)


# --- Metadata panel: add, edit and remove one key at a time -----------------------------


@login_required
@require_http_methods(["GET", "POST"])
def metadata_add(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    if request.method == "GET":
        return _metadata_response(request, membership, customer)
    form = MetadataEntryForm(request.POST)
    if "preview" in request.POST:
        return _metadata_preview(request, form, "add")
    return _save_metadata(request, membership, customer, form, add_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def metadata_edit(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    form = MetadataEditForm(request.POST) if request.method == "POST" else None
    if form is not None and "preview" in request.POST:
        return _metadata_preview(request, form, "edit")
    if form is not None and not form.is_valid() and form.token_is_damaged:
        return _metadata_damaged(request, membership, customer)
    key = request.GET.get("key") if form is None else form.cleaned_data["original_key"]
    if key not in customer.metadata:
        return _metadata_key_gone(request, membership, customer, key)
    if form is None:
        form = MetadataEditForm.for_existing(key, customer.metadata[key])
        return _metadata_response(request, membership, customer, edit_form=form)
    return _save_metadata(request, membership, customer, form, edit_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def metadata_remove(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """GET asks in the page (the row turns into a confirmation); POST removes the key if
    it still holds the value the person saw."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    if request.method == "GET":
        key = request.GET.get("key", "")
        if key not in customer.metadata:
            return _metadata_key_gone(request, membership, customer, key)
        return _metadata_response(request, membership, customer, removing_key=key)
    form = MetadataRemoveForm(request.POST)
    if not form.is_valid():
        return _metadata_damaged(request, membership, customer)
    key = form.cleaned_data["key"]
    try:
        updated = services.customer_remove_metadata_key(
            customer=customer, key=key, expected_value=form.cleaned_data["expected"]
        )
    except services.StaleCustomerError as error:
        return _metadata_response(request, membership, error.current, error=str(error), status=409)
    return _metadata_saved(request, membership, updated, f"Removed {key!r}.")


def _save_metadata(request, membership, customer, form, *, add_form=None, edit_form=None):
    if not form.is_valid():
        return _metadata_response(
            request, membership, customer, add_form=add_form, edit_form=edit_form, status=422
        )
    data = form.cleaned_data
    editing = isinstance(form, MetadataEditForm)
    try:
        updated = services.customer_set_metadata_key(
            customer=customer,
            key=data["key"],
            value=data["typed_value"],
            replaces_key=data["original_key"] if editing else None,
            expected_value=data["expected"] if editing else services.UNSET,
        )
    except services.StaleCustomerError as error:
        return _metadata_response(request, membership, error.current, error=str(error), status=409)
    except ValidationError as error:
        # Limits on the whole object (50 keys) belong to the panel, not to one field.
        panel_error = " ".join(error.message_dict.pop("metadata", []))
        add_validation_errors(form, ValidationError(error.message_dict))
        return _metadata_response(
            request,
            membership,
            customer,
            add_form=add_form,
            edit_form=edit_form,
            error=panel_error or None,
            status=422,
        )
    message = f"Saved {data['key']!r} as {stored_as(data['typed_value'])}."
    return _metadata_saved(request, membership, updated, message)


def _metadata_preview(request, form, action: str) -> HttpResponse:
    """The hint under the value: what it would be stored as. Writes nothing."""
    form.is_valid()
    hint, is_error = form.preview()
    # What the hint is about, so app.js can tell an answer that came after more typing.
    hint_for = f"{form['type'].data}:{form.raw_value()}"
    context = {"action": action, "hint": hint, "hint_is_error": is_error, "hint_for": hint_for}
    return render(request, "customers/_metadata_form.html#value_hint", context)


def _metadata_key_gone(request, membership, customer, key) -> HttpResponse:
    error = f"The key {key!r} no longer exists."
    return _metadata_response(request, membership, customer, error=error, status=409)


def _metadata_damaged(request, membership, customer) -> HttpResponse:
    """A metadata write without a usable record of what the editor saw: refuse it."""
    return _metadata_response(request, membership, customer, error=DAMAGED_FORM_MESSAGE, status=400)


def _metadata_saved(request, membership, customer, message: str) -> HttpResponse:
    if request.htmx:
        return _metadata_response(request, membership, customer, notice=message)
    messages.success(request, message)
    return redirect("customers:detail", membership.organization.slug, customer.pk)


def _metadata_response(
    request,
    membership,
    customer,
    *,
    add_form=None,
    edit_form=None,
    error=None,
    notice=None,
    removing_key=None,
    status=200,
) -> HttpResponse:
    context = {
        **(detail_context(request, membership, customer) if not request.htmx else {}),
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "metadata_rows": _metadata_rows(customer),
        "add_form": add_form if add_form is not None else MetadataEntryForm(),
        "edit_form": edit_form,
        "editing_key": edit_form["original_key"].value() if edit_form is not None else None,
        "removing_key": removing_key,
        "metadata_error": error,
        "metadata_notice": notice,
    }
    return _render(request, "customers/customer_detail.html", "metadata", context, status=status)


# --- Helpers ----------------------------------------------------------------------------


def detail_context(request, membership, customer) -> dict:
    orders = _orders_page(customer, None)
    subscriptions = customer.subscriptions.newest()
    org_slug = membership.organization.slug
    return {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "metrics": customer_metrics(customer),
        "orders": orders,
        "orders_next_url": _orders_next_url(org_slug, customer, orders),
        "subscriptions": subscriptions,
        "metadata_rows": _metadata_rows(customer),
        "add_form": MetadataEntryForm(),
        "billing_country_name": country_name(customer.billing_address_country),
        "webhook_endpoints": _webhook_endpoints(membership),
    }


def _webhook_endpoints(membership) -> list:
    """Owners get a link to each endpoint's delivery log, filtered to the customer: one
    query, and none for members, who cannot open the log."""
    if not membership.is_owner:
        return []
    endpoints = membership.organization.webhook_endpoints.only("id", "url", "organization_id")
    return list(endpoints.order_by("created_at", "id")[:WEBHOOK_LINKS_SHOWN])


def _orders_page(customer, cursor):
    orders = Order.objects.filter(customer=customer).select_related("product")
    return keyset_page(
        orders, field="created_at", descending=True, cursor=cursor, limit=ORDERS_PAGE_SIZE
    )


def _orders_next_url(org_slug, customer, orders) -> str | None:
    if not orders.next_cursor:
        return None
    url = reverse("customers:orders", args=[org_slug, customer.pk])
    return f"{url}?{urlencode({'cursor': orders.next_cursor})}"


def _metadata_rows(customer) -> list[dict]:
    return [
        {
            "key": key,
            "value": value,
            "shown": shown_value(value),
            "stored_as": stored_as(value),
            "type": value_type(value),
            "type_label": VALUE_TYPE_LABELS[value_type(value)],
            # Only a token too long for its cell may break anywhere; words break between.
            "long_key": _has_long_token(key, 18),
            "long_value": _has_long_token(shown_value(value), 24),
            "form": MetadataEntryForm.for_existing(key, value),
        }
        for key, value in customer.metadata.items()
    ]


def _has_long_token(text: str, length: int) -> bool:
    return any(len(token) > length for token in text.split())


@login_required
@require_GET
def customer_export(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The customers the list shows (same search and filters, any number of them) as a
    CSV download, streamed in constant memory; columns as the API's export."""
    membership = get_membership_or_404(request, org_slug)
    form = CustomerListForm(request.GET)
    if not form.is_valid():
        return bad_request(_first_error(form))
    customers = _listed(
        membership.organization,
        form.cleaned_data["query"],
        form.cleaned_data["active"],
        metadata_filters(request.GET),
        _segment_bounds(form, membership.organization),
    )
    response = StreamingHttpResponse(csv_pieces(customers), content_type="text/csv; charset=utf-8")
    filename = f"{org_slug}-customers-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _listed(organization, query, active, filters, segments=None):
    """The customers the list (and its export) shows for this search and these filters
    (`segments`: the keyword arguments of `filter_segments`)."""
    return (
        Customer.objects.for_org(organization)
        .search(query)
        .filter_active(active)
        .filter_metadata(filters)
        .filter_segments(organization, **(segments or {}))
    )


def _segment_bounds(form, organization) -> dict:
    """The segment filters of a valid list form for `filter_segments`, the days turned
    into UTC instants of the organization's days."""
    data = form.cleaned_data
    tz = zone(organization.timezone or "UTC")
    return {
        "at_risk": data["at_risk"],
        "first_order": day_range_bounds(data["first_order_from"], data["first_order_to"], tz),
        "ordered": day_range_bounds(data["ordered_from"], data["ordered_to"], tz),
    }


def _customer_page(customers, *, query: str, segmented: bool = False, **paging):
    """A page of the list. A search on PostgreSQL first tries its trigram indexes and sorts
    what they match: milliseconds when few rows match, wherever they sit in the sort order.
    When many match, that would sort a large share of the table, so it gets a short time
    budget, and past it the page comes from walking the sort index instead (quick exactly
    then, since matches are everywhere). The planner cannot tell the cases apart: its
    estimate for any substring pattern is the same.

    A segment (`filter_segments`) the other way round: the walk first, within its budget,
    since the overview links recent days, whose customers sit at the top of the usual
    orders (newest, highest revenue): a few milliseconds. Past the budget (days long ago,
    a rare segment), the segment's own rows are read from its subquery's index and sorted:
    in proportion to the segment, not to the table. The planner cannot tell these apart
    either: it assumes a segment's customers are spread evenly through the sort order."""
    if connection.vendor == "postgresql" and (len(query) >= 3 or segmented):
        sort_first = len(query) >= 3
        budget = SEARCH_FAST_PATH_MS if sort_first else SEGMENT_WALK_MS
        try:
            with statement_budget(customers.model, budget):
                return keyset_page(
                    customers, limit=LIST_PAGE_SIZE, sort_matches_first=sort_first, **paging
                )
        except OperationalError:  # cancelled at the time budget
            if not sort_first:
                return keyset_page(
                    customers, limit=LIST_PAGE_SIZE, sort_matches_first=True, **paging
                )
    return keyset_page(customers, limit=LIST_PAGE_SIZE, **paging)


def _redirect_with_metadata_filter(request, org_slug: str) -> HttpResponse:
    """The "filter by metadata" form sends a key and a value; the list's URL names the
    filter as `metadata[key]=value`, like the API, so redirect there."""
    params = [
        (name, value)
        for name, values in request.GET.lists()
        for value in values
        if name in ("query", "active", "sorting", "column", *SEGMENT_PARAMS)
        or name.startswith("metadata[")
    ]
    form = MetadataFilterForm(request.GET)
    if form.is_valid():
        params.append(
            (f"metadata[{form.cleaned_data['filter_key']}]", form.cleaned_data["filter_value"])
        )
    else:
        messages.error(request, "To filter by metadata, give both a key and a value.")
    url = reverse("customers:list", args=[org_slug])
    return redirect(f"{url}?{urlencode([(k, v) for k, v in params if v != ''])}")


def _mark_column(customers: list, key: str) -> None:
    """Set `column_value` on each row: its metadata value under `key` as the dashboard
    shows values, or None when it has none."""
    for customer in customers:
        metadata = customer.metadata or {}
        customer.column_value = shown_value(metadata[key]) if key in metadata else None


def _list_state(query, active, sorting, filters, column="", segments=()) -> list[tuple[str, str]]:
    state = []
    if query:
        state.append(("query", query))
    if active is not None:
        state.append(("active", "true" if active else "false"))
    if sorting != "-created_at":
        state.append(("sorting", sorting))
    for key, values in filters.items():
        state.extend((f"metadata[{key}]", value) for value in values)
    if column:
        state.append(("column", column))
    for segment in segments:
        state.extend(segment["params"])
    return state


def _list_url(org_slug, state, *, cursor=None, drop=None, view="customers:list") -> str:
    params = [
        (k, v) for k, v in state if not (drop and k == f"metadata[{drop[0]}]" and v == drop[1])
    ]
    if cursor:
        params.append(("cursor", cursor))
    url = reverse(view, args=[org_slug])
    return f"{url}?{urlencode(params)}" if params else url


def _stale_changes(form, current: Customer) -> list[dict]:
    """The fields someone else changed, with the value stored now."""
    changed = []
    for name in form.Meta.fields:
        submitted, stored = form.cleaned_data.get(name), getattr(current, name)
        if (submitted or "") != (stored or ""):
            changed.append(
                {"label": form.fields[name].label, "submitted": submitted, "current": stored}
            )
    return changed


def _form_status(request, form) -> int:
    return 422 if request.method == "POST" and form.errors else 200


def _first_error(form) -> str:
    return next(iter(form.errors.values()))[0]

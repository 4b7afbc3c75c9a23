"""Settings → Webhooks (owners only): endpoints and their delivery log.

Like the API tokens page: members get 403, other organizations' endpoints are 404, and a
secret appears only in the response to the POST that made it.
"""

from datetime import UTC, datetime
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import add_validation_errors
from core.paging import InvalidCursor, keyset_page
from core.views import bad_request
from organizations.access import get_membership_or_404
from organizations.models import Membership
from webhooks import services
from webhooks.forms import WebhookEndpointForm
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

LOG_PAGE_SIZE = 50
# Attempts by outcome, or deliveries that have none to show: waiting for their first try
# (while the endpoint is disabled, say) or expired unsent.
LOG_FILTERS = {"all": None, "succeeded": True, "failed": False}
DELIVERY_FILTERS = {
    "waiting": {"status": WebhookDelivery.Status.PENDING, "attempts": 0},
    "expired": {"status": WebhookDelivery.Status.EXPIRED},
}


@login_required
@never_cache  # the response to a create carries the endpoint's secret
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest, org_slug: str) -> HttpResponse:
    """List the endpoints and add one, showing its signing secret this once."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.endpoint_create(
                organization=membership.organization,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            form = WebhookEndpointForm()
    status = 422 if form.errors else 200
    return _endpoints_page(request, membership, form=form, secret_of=created, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    form = WebhookEndpointForm.for_endpoint(endpoint, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
            )
        except ValidationError as error:
            add_validation_errors(form, error)
            endpoint.refresh_from_db()
        else:
            messages.success(request, f"Endpoint {endpoint.url} saved.")
            return redirect("webhooks:endpoints", org_slug)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "endpoint": endpoint,
        "form": form,
    }
    status = 422 if form.errors else 200
    return render(request, "webhooks/endpoint_edit.html", context, status=status)


@login_required
@require_POST
def endpoint_enable(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    return _switch(request, org_slug, endpoint_id, enabled=True)


@login_required
@require_POST
def endpoint_disable(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    return _switch(request, org_slug, endpoint_id, enabled=False)


@login_required
@never_cache  # carries the new secret
@require_POST
def endpoint_rotate_secret(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    services.endpoint_rotate_secret(endpoint=endpoint)
    return _endpoints_page(request, membership, secret_of=endpoint, rotated=True)


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted: nothing more is sent to it.")
    return redirect("webhooks:endpoints", org_slug)


# --- The delivery log ---------------------------------------------------------------------


@login_required
@require_GET
def endpoint_log(request: HttpRequest, org_slug: str, endpoint_id: UUID) -> HttpResponse:
    """Every attempt to deliver to the endpoint, newest first, 50 at a time."""
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    outcome = request.GET.get("status", "all")
    if outcome not in LOG_FILTERS and outcome not in DELIVERY_FILTERS:
        return bad_request("Filter by status: all, succeeded, failed, waiting or expired.")
    customer_id = request.GET.get("customer") or None
    if customer_id is not None:
        try:
            customer_id = UUID(customer_id)
        except ValueError:
            return bad_request("The customer filter needs a customer ID.")

    if outcome in DELIVERY_FILTERS:
        rows = WebhookDelivery.objects.filter(
            endpoint=endpoint, **DELIVERY_FILTERS[outcome]
        ).select_related("event")
        event_path = "event__"
    else:
        rows = WebhookAttempt.objects.filter(delivery__endpoint=endpoint).select_related(
            "delivery__event"
        )
        if LOG_FILTERS[outcome] is not None:
            rows = rows.filter(succeeded=LOG_FILTERS[outcome])
        event_path = "delivery__event__"
    if customer_id is not None:
        rows = rows.filter(**{f"{event_path}customer_id": customer_id})
    try:
        page = keyset_page(
            rows,
            field="created_at",
            descending=True,
            cursor=request.GET.get("cursor"),
            limit=LOG_PAGE_SIZE,
        )
    except InvalidCursor as error:
        return bad_request(str(error))

    def log_url(**changes) -> str:
        params = {"status": outcome, "customer": customer_id, "cursor": None, **changes}
        query = urlencode({k: v for k, v in params.items() if v and v != "all"})
        path = reverse("webhooks:endpoint", args=[org_slug, endpoint.pk])
        return f"{path}?{query}" if query else path

    context = {
        "membership": membership,
        "organization": membership.organization,
        "endpoint": endpoint,
        "page": page,
        "outcome": outcome,
        "customer_id": customer_id,
        "filters": [
            {"value": value, "label": value.title(), "url": log_url(status=value)}
            for value in (*LOG_FILTERS, *DELIVERY_FILTERS)
        ],
        "lists_deliveries": outcome in DELIVERY_FILTERS,
        "now": datetime.now(UTC),
        "all_customers_url": log_url(customer=None),
        "newest_url": log_url() if request.GET.get("cursor") else None,
        "older_url": page.next_cursor and log_url(cursor=page.next_cursor),
        # The redeliver form sends the visitor back to the page they were looking at.
        "here": request.get_full_path(),
    }
    name = "webhooks/endpoint_log.html#log" if request.htmx else "webhooks/endpoint_log.html"
    response = render(request, name, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def delivery_redeliver(
    request: HttpRequest, org_slug: str, endpoint_id: UUID, delivery_id: UUID
) -> HttpResponse:
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    try:
        delivery = WebhookDelivery.objects.select_related("event").get(
            endpoint=endpoint, pk=delivery_id
        )
    except WebhookDelivery.DoesNotExist:
        raise Http404("No such delivery.") from None
    services.delivery_redeliver(delivery=delivery)
    messages.success(
        request,
        f"{delivery.event.type} will be sent again in a moment, with a fresh set of retries.",
    )
    back = request.POST.get("next", "")
    log = reverse("webhooks:endpoint", args=[org_slug, endpoint.pk])
    return redirect(back if back.startswith(log) else log)


# --- Helpers ----------------------------------------------------------------------------


def _endpoints_page(request, membership, *, form=None, secret_of=None, rotated=False, status=200):
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "form": form or WebhookEndpointForm(),
        # Rendered into this response only: never stored in the session, a message or a
        # URL, so it cannot be shown again.
        "secret_of": secret_of,
        "rotated": rotated,
        "endpoints": list(organization.webhook_endpoints.order_by("-created_at", "-pk")),
        "disable_after_hours": f"{settings.WEBHOOK_DISABLE_AFTER_HOURS:g}",
    }
    return render(request, "webhooks/endpoints.html", context, status=status)


def _switch(request, org_slug: str, endpoint_id, *, enabled: bool) -> HttpResponse:
    membership, endpoint = _get_endpoint_or_404(request, org_slug, endpoint_id)
    if endpoint is None:
        return _owners_only(request, membership)
    try:
        services.endpoint_update(endpoint=endpoint, enabled=enabled)
    except ValidationError as error:
        # An endpoint saved before a rule tightened (its URL now refused): say why.
        messages.error(request, " ".join(error.messages))
    else:
        state = (
            "enabled: events are sent to it again, waiting ones first"
            if enabled
            else "disabled: no events are recorded for it until you enable it again"
        )
        messages.success(request, f"Endpoint {endpoint.url} {state}.")
    return redirect("webhooks:endpoints", org_slug)


def _get_endpoint_or_404(request, org_slug: str, endpoint_id):
    """The membership and the organization's endpoint, or 404; the endpoint is None for a
    member (not an owner), who gets the owners-only page."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return membership, None
    try:
        endpoint = membership.organization.webhook_endpoints.get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404("No such webhook endpoint.") from None
    return membership, endpoint


def _owners_only(request: HttpRequest, membership: Membership) -> HttpResponse:
    """403 for members: they may know the organization exists, but not manage it."""
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "organizations/forbidden.html", context, status=403)

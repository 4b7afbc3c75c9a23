from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.changes import Change, record
from core.forms import add_validation_errors
from organizations import services
from organizations.access import get_membership_or_404
from organizations.forms import AccessTokenCreateForm, OrganizationSettingsForm, PortalSettingsForm
from organizations.jobs import timezone_change_request
from organizations.models import Membership, Organization, OrganizationAccessToken

# How long a settings save waits for the organization's row. The worker holds it while it
# recuts the figures for a new timezone (organizations.jobs), which can take far longer
# than a page should: past this, the page says so and the owner tries again.
ROW_LOCK_TIMEOUT = "3s"
BUSY = (
    "A timezone change is being applied right now (the figures are being recut), and "
    "these settings wait until it is done. Try again in a minute."
)

# --- Settings: the organization (owners only) -------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def organization_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's name, currency (applied at once) and timezone (applied by the
    worker, which recuts the figures; the page says so while it is pending)."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    initial = {
        "name": organization.name,
        "timezone": organization.pending_timezone or organization.timezone,
        "currency": organization.currency,
    }
    form = OrganizationSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changes = _organization_update(
                organization,
                {"name": data["name"], "currency": data["currency"]},
                timezone_name=data["timezone"],
            )
        except _RowBusy:
            form.add_error(None, BUSY)
            status = 409
        else:
            messages.success(request, _saved_message(changes))
            return redirect("organizations:settings", org_slug)
    context = {"membership": membership, "organization": organization, "form": form}
    if request.htmx and request.method == "GET":
        # The pending notice asks again every few seconds until the change is applied.
        name = "organizations/settings.html#timezone_status"
    else:
        name = "organizations/settings.html"
        status = 422 if form.errors and status == 200 else status
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _saved_message(changes: dict) -> str:
    if not changes:
        return "Nothing changed."
    if "timezone" not in changes:
        return "Settings saved."
    old, new = changes["timezone"]
    return (
        f"Settings saved. The timezone change from {old} to {new} is applied in the "
        "background: the figures are recut in the new zone, which can take a few minutes."
    )


# --- Settings: API access tokens (owners only) -------------------------------------------


@login_required
@never_cache  # the response to a create carries the token's secret: keep it out of caches
@require_http_methods(["GET", "POST"])
def access_tokens(request: HttpRequest, org_slug: str) -> HttpResponse:
    """List the organization's tokens and create one, showing its secret this once."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    form = AccessTokenCreateForm(request.POST or None)
    created, secret = None, None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = services.access_token_create(
                organization=organization, created_by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            # The secret is rendered into this response only: never stored in the session,
            # a message or a URL, so it cannot be shown again.
            form = AccessTokenCreateForm()
    now = timezone.now()
    tokens = organization.access_tokens.select_related("created_by").order_by("-created_at", "-pk")
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "created": created,
        "secret": secret,
        "rows": [{"token": token, "status": _status(token, now)} for token in tokens],
    }
    status = 422 if form.errors else 200
    return render(request, "organizations/tokens.html", context, status=status)


@login_required
@require_POST
def access_token_revoke(request: HttpRequest, org_slug: str, token_id) -> HttpResponse:
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    token = _get_access_token_or_404(membership, token_id)
    if token.revoked_at is not None:
        messages.info(request, f"The token “{token.name}” was already revoked.")
    else:
        services.access_token_revoke(token=token)
        messages.success(
            request, f"Token “{token.name}” revoked: requests using it are refused from now on."
        )
    return redirect("organizations:tokens", org_slug)


# --- Settings: the customer portal (owners only) ----------------------------------------

PORTAL_SETTINGS_FIELDS = PortalSettingsForm.Meta.fields


@login_required
@require_http_methods(["GET", "POST"])
def portal_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    """What customers may do in the portal, its support email and default return URL."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    form = PortalSettingsForm(request.POST or None, instance=organization)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            _organization_update(
                organization, {name: form.cleaned_data[name] for name in PORTAL_SETTINGS_FIELDS}
            )
        except _RowBusy:
            form.add_error(None, BUSY)
            status = 409
        else:
            messages.success(request, "Customer portal settings saved.")
            return redirect("organizations:portal", org_slug)
    context = {"membership": membership, "organization": organization, "form": form}
    status = 422 if form.errors and status == 200 else status
    return render(request, "organizations/portal_settings.html", context, status=status)


# --- Helpers ----------------------------------------------------------------------------


class _RowBusy(Exception):
    """The organization's row stayed locked past ROW_LOCK_TIMEOUT."""


def _organization_update(
    organization: Organization, values: dict, *, timezone_name: str | None = None
) -> dict:
    """Save the settings in `values` that differ from the row as stored (only those
    fields: a concurrent change to the rest of the row stays) and, with `timezone_name`,
    ask the worker for that zone; report the change as `organization.updated` with each
    field's `[old, new]` (a timezone's old value is the zone asked for before, pending or
    applied), in the same transaction. The row is locked and read afresh first, so two
    owners saving at once queue up and the last one wins whole. Returns the changes."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{ROW_LOCK_TIMEOUT}'")
            current = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
            changes = {
                name: [getattr(current, name), value]
                for name, value in values.items()
                if getattr(current, name) != value
            }
            for name, (_old, value) in changes.items():
                setattr(current, name, value)
            if changes:
                current.save(update_fields=[*changes, "modified_at"])
            if timezone_name is not None:
                asked_before = current.pending_timezone or current.timezone
                if timezone_name != asked_before:
                    timezone_change_request(organization=current, timezone_name=timezone_name)
                    changes["timezone"] = [asked_before, timezone_name]
            if changes:
                record(
                    Change(
                        type="organization.updated",
                        organization_id=current.pk,
                        subject=current,
                        changes=changes,
                    )
                )
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise _RowBusy from error
        raise
    return changes


def _get_access_token_or_404(membership: Membership, token_id) -> OrganizationAccessToken:
    # Scoped to the membership's organization: another organization's token is missing.
    try:
        return membership.organization.access_tokens.get(pk=token_id)
    except OrganizationAccessToken.DoesNotExist:
        raise Http404("No such access token.") from None


def _owners_only(request: HttpRequest, membership: Membership) -> HttpResponse:
    """403 for members: they may know the organization exists, but not manage it."""
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "organizations/forbidden.html", context, status=403)


def _status(token: OrganizationAccessToken, now) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"

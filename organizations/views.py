from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_validation_errors
from organizations import services
from organizations.access import get_membership_or_404
from organizations.forms import AccessTokenCreateForm, PortalSettingsForm
from organizations.models import Membership, OrganizationAccessToken

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
    if request.method == "POST" and form.is_valid():
        # Only these fields: a concurrent change to the rest of the row stays.
        form.save(commit=False).save(update_fields=[*PORTAL_SETTINGS_FIELDS, "modified_at"])
        messages.success(request, "Customer portal settings saved.")
        return redirect("organizations:portal", org_slug)
    context = {"membership": membership, "organization": organization, "form": form}
    status = 422 if form.errors else 200
    return render(request, "organizations/portal_settings.html", context, status=status)


# --- Helpers ----------------------------------------------------------------------------


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

"""The hosted customer portal at /portal/<org-slug>/: the customer's subscriptions, orders,
receipts and billing details, and the sign-in (a merchant's link or an emailed code).

A signed-in customer holds a portal cookie of its own (`portal_session`, path
/portal/<slug>/, signed, HttpOnly), never the merchant's session cookie. It carries only
the CustomerSession's id, and every page reads that session again, so an expired or
revoked session (or a deleted customer) is signed out at once. Writes go through the
same services as the API, acting as the customer from the portal.

The routes are named under `portal:`; the dashboard's access walk leaves them to
tests/portal, since they sign in customers, not merchants.
"""

import copy
import functools
import uuid
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.signing import BadSignature
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.clients import client_address
from core.forms import add_validation_errors
from customers import services as customer_services
from orders import services as order_services
from orders.models import InvalidTransition, Order, Subscription
from organizations.models import Organization
from portal import signin
from portal.forms import BillingDetailsForm, CodeForm, EmailForm
from portal.models import CustomerSession
from portal.services import (
    acting_as_customer,
    customer_session_authenticate,
    customer_session_revoke,
)

COOKIE_NAME = "portal_session"
# The languages the portal's strings are translated to; another locale gets English.
PORTAL_LANGUAGES = ("en",)
DEFAULT_LANGUAGE = "en"
# The home page shows the latest orders; more than this is rare for one customer.
ORDERS_SHOWN = 50


def _salt(slug: str) -> str:
    # Bound to the slug, so a cookie set for one portal never opens another.
    return f"portal.session:{slug}"


def _cookie_path(slug: str) -> str:
    return f"/portal/{quote(slug)}/"


def _language(locale: str) -> str:
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    return language if language in PORTAL_LANGUAGES else DEFAULT_LANGUAGE


def _urls(slug: str) -> dict:
    return {
        "home": reverse("portal:home", args=[slug]),
        "billing": reverse("portal:billing", args=[slug]),
        "sign_out": reverse("portal:sign_out", args=[slug]),
        "sign_in": reverse("portal:sign_in", args=[slug]),
        "code": reverse("portal:sign_in_code", args=[slug]),
    }


def _organization_or_404(slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise Http404("No such portal.")
    return organization


def _session_from_cookie(request: HttpRequest, slug: str) -> CustomerSession | None:
    """The usable session the portal cookie names for this slug's organization, or None."""
    try:
        session_id = request.get_signed_cookie(COOKIE_NAME, salt=_salt(slug))
    except (KeyError, BadSignature):
        return None
    # One query: the session, its customer and its organization.
    session = (
        CustomerSession.objects.select_related("customer", "organization")
        .filter(pk=session_id, organization__slug=slug)
        .first()
        if _is_uuid(session_id)
        else None
    )
    if session is None or not session.is_usable(timezone.now()):
        return None
    if session.customer.deleted_at is not None:
        return None
    return session


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _sign_in_response(slug: str, session: CustomerSession) -> HttpResponse:
    """Go home, holding the portal cookie for this session."""
    response = HttpResponseRedirect(reverse("portal:home", args=[slug]))
    remaining = int((session.expires_at - timezone.now()).total_seconds())
    response.set_signed_cookie(
        COOKIE_NAME,
        str(session.pk),
        salt=_salt(slug),
        max_age=max(remaining, 0),
        path=_cookie_path(slug),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def portal_page(view):
    """Load the signed-in customer's session (else back to the sign-in page) and answer in
    their language."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_slug: str, *args, **kwargs) -> HttpResponse:
        session = _session_from_cookie(request, org_slug)
        if session is None:
            _organization_or_404(org_slug)
            return HttpResponseRedirect(reverse("portal:home", args=[org_slug]))
        with translation.override(_language(session.customer.locale)):
            return view(request, session, *args, **kwargs)

    return wrapper


def _context(session: CustomerSession, **extra) -> dict:
    organization = session.organization
    return {
        "organization": organization,
        "customer": session.customer,
        "portal_session": session,
        "urls": _urls(organization.slug),
        # The organization's portal settings: what the page offers (the views refuse the
        # rest with a 403, as the portal API does).
        "can_cancel": organization.portal_allow_subscription_cancel,
        "can_update_billing": organization.portal_allow_billing_update,
        **extra,
    }


def _not_permitted(request: HttpRequest, session: CustomerSession, message: str):
    """403: the organization's portal settings do not let customers do this."""
    context = _context(session, message=message)
    return render(request, "portal/not_permitted.html", context, status=403)


def _cancel_not_permitted() -> str:
    return _("Subscriptions cannot be canceled here. Please contact us to change yours.")


def _billing_not_permitted() -> str:
    return _("Billing details cannot be changed here. Please contact us to change them.")


def _home_context(session: CustomerSession, form: BillingDetailsForm | None = None) -> dict:
    customer, organization = session.customer, session.organization
    subscriptions = list(
        Subscription.objects.for_org(organization)
        .filter(customer=customer, status__in=Subscription.ACTIVE_STATUSES)
        .select_related("product")
        .order_by("current_period_end", "id")
    )
    orders = list(
        Order.objects.for_org(organization)
        .filter(customer=customer)
        .select_related("product")
        .order_by("-created_at", "-id")[:ORDERS_SHOWN]
    )
    slug = organization.slug
    for subscription in subscriptions:
        subscription.portal_action_url = reverse(
            "portal:subscription_action",
            args=[
                slug,
                subscription.pk,
                "uncancel" if subscription.cancel_at_period_end else "cancel",
            ],
        )
    for order in orders:
        order.portal_receipt_url = (
            reverse("portal:receipt", args=[slug, order.pk]) if order.paid else ""
        )
    if form is None:
        form = BillingDetailsForm(instance=copy.copy(customer))
    return _context(session, subscriptions=subscriptions, orders=orders, form=form)


# --- Home and sign-in ---------------------------------------------------------------------


@never_cache
@require_http_methods(["GET"])
def home(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The portal: with `?customer_session_token=` sign in and drop the token from the
    address; signed in, the customer's page; otherwise the sign-in form."""
    token = request.GET.get("customer_session_token")
    if token is not None:
        session = customer_session_authenticate(token)
        if session is not None and session.organization.slug == org_slug:
            return _sign_in_response(org_slug, session)
        organization = _organization_or_404(org_slug)
        with translation.override(DEFAULT_LANGUAGE):
            return _sign_in_page(
                request,
                organization,
                error=_("This link has expired. Enter your email to get a sign-in code."),
            )
    session = _session_from_cookie(request, org_slug)
    if session is None:
        return _sign_in_page(request, _organization_or_404(org_slug))
    with translation.override(_language(session.customer.locale)):
        return render(request, "portal/home.html", _home_context(session))


def _sign_in_page(
    request: HttpRequest,
    organization: Organization,
    *,
    form: EmailForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "organization": organization,
        "form": form or EmailForm(),
        "error": error,
        "urls": _urls(organization.slug),
    }
    return render(request, "portal/sign_in.html", context, status=status)


def _too_many(request: HttpRequest, organization: Organization, retry_after: int):
    response = render(
        request,
        "portal/too_many.html",
        {"organization": organization, "urls": _urls(organization.slug)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


@never_cache
@require_POST
def sign_in_email(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Send a code to the email given. The answer is the code form whether or not the
    email is a customer's."""
    organization = _organization_or_404(org_slug)
    with translation.override(DEFAULT_LANGUAGE):
        form = EmailForm(request.POST)
        if not form.is_valid():
            return _sign_in_page(request, organization, form=form, status=422)
        email = form.cleaned_data["email"]
        try:
            signin.sign_in_code_request(
                organization=organization, email=email, address=client_address(request)
            )
        except signin.RateLimited as limited:
            return _too_many(request, organization, limited.retry_after)
        return _code_page(request, organization, CodeForm(initial={"email": email}), email)


def _code_page(request, organization, form, email, *, error="", status=200) -> HttpResponse:
    context = {
        "organization": organization,
        "form": form,
        "email": email,
        "error": error,
        "urls": _urls(organization.slug),
    }
    return render(request, "portal/sign_in_code.html", context, status=status)


@never_cache
@require_POST
def sign_in_code(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Check the code; the right one signs in."""
    organization = _organization_or_404(org_slug)
    with translation.override(DEFAULT_LANGUAGE):
        form = CodeForm(request.POST)
        email = request.POST.get("email", "")
        if not form.is_valid():
            if "email" in form.errors:
                return _sign_in_page(request, organization, status=422)
            return _code_page(request, organization, form, email, status=422)
        try:
            session, _token = signin.sign_in_code_verify(
                organization=organization,
                email=form.cleaned_data["email"],
                code=form.cleaned_data["code"],
                address=client_address(request),
            )
        except signin.RateLimited as limited:
            return _too_many(request, organization, limited.retry_after)
        except signin.CodeRefused as refused:
            form = CodeForm(initial={"email": email})
            return _code_page(request, organization, form, email, error=str(refused), status=422)
        session.organization = organization
        return _sign_in_response(org_slug, session)


@never_cache
@require_POST
def sign_out(request: HttpRequest, org_slug: str) -> HttpResponse:
    """End the session and forget the cookie."""
    session = _session_from_cookie(request, org_slug)
    if session is None:
        _organization_or_404(org_slug)
    else:
        customer_session_revoke(session=session)
    response = HttpResponseRedirect(reverse("portal:home", args=[org_slug]))
    response.delete_cookie(COOKIE_NAME, path=_cookie_path(org_slug), samesite="Lax")
    return response


# --- The customer's pages -----------------------------------------------------------------


@never_cache
@require_POST
@portal_page
def billing(request: HttpRequest, session: CustomerSession) -> HttpResponse:
    """Save the billing details; errors beside their fields. A 403 when the organization
    does not let customers update them."""
    if not session.organization.portal_allow_billing_update:
        return _not_permitted(request, session, _billing_not_permitted())
    customer = session.customer
    form = BillingDetailsForm(request.POST, instance=copy.copy(customer))
    if form.is_valid():
        key = customer_services.CustomerKey(
            organization_id=customer.organization_id, id=customer.pk
        )
        try:
            with acting_as_customer(customer):
                customer_services.customer_update(customer=key, **form.changes())
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            messages.success(request, _("Your billing details are saved."))
            return HttpResponseRedirect(reverse("portal:home", args=[session.organization.slug]))
    return render(request, "portal/home.html", _home_context(session, form), status=422)


@never_cache
@require_http_methods(["GET", "POST"])
@portal_page
def subscription_action(
    request: HttpRequest, session: CustomerSession, subscription_id, action: str
) -> HttpResponse:
    """GET: ask to confirm cancelling at period end (or undoing it); POST: do it. A 403
    when the organization does not let customers cancel."""
    if action not in ("cancel", "uncancel"):
        raise Http404("No such action.")
    if not session.organization.portal_allow_subscription_cancel:
        return _not_permitted(request, session, _cancel_not_permitted())
    subscription = (
        Subscription.objects.for_org(session.organization)
        .filter(customer=session.customer, pk=subscription_id)
        .select_related("product")
        .first()
    )
    if subscription is None:
        raise Http404("No such subscription.")
    home_url = reverse("portal:home", args=[session.organization.slug])
    if request.method == "POST":
        try:
            with acting_as_customer(session.customer):
                if action == "cancel":
                    order_services.subscription_cancel(subscription=subscription)
                else:
                    order_services.subscription_uncancel(subscription=subscription)
        except InvalidTransition as error:
            messages.error(request, str(error))
        else:
            if action == "cancel":
                messages.success(
                    request,
                    _("Your subscription will end on %(date)s.")
                    % {"date": _date(subscription.current_period_end)},
                )
            else:
                messages.success(request, _("Your subscription will renew as usual."))
        return HttpResponseRedirect(home_url)
    context = _context(session, subscription=subscription, action=action, home_url=home_url)
    return render(request, "portal/subscription_confirm.html", context)


def _date(value) -> str:
    return date_format(timezone.localtime(value), "DATE_FORMAT")


@never_cache
@require_http_methods(["GET"])
@portal_page
def receipt(request: HttpRequest, session: CustomerSession, order_id) -> HttpResponse:
    """A paid order's receipt, printable; anyone else's order (or an unpaid one) is a 404."""
    order = (
        Order.objects.for_org(session.organization)
        .filter(customer=session.customer, pk=order_id)
        .select_related("product")
        .first()
    )
    if order is None or not order.paid:
        raise Http404("No such receipt.")
    return render(request, "portal/receipt.html", _context(session, order=order))

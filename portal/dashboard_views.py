"""The dashboard's portal links, on a customer's page: *Copy portal link* and *Email portal
link*. Each opens a customer session (as `POST /v1/customer-sessions/` does) with the
organization's default return URL.

They live here, not in customers/, because the portal sits above the customers in the
layers (pyproject.toml): a customer's page may link to these views, not import them.
Owners and members alike may use them; another organization's customer (or a deleted one)
is a 404, as everywhere in the dashboard.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.emails import email_send
from customers.access import get_customer_or_404
from customers.models import Customer
from customers.views import detail_context
from portal.services import customer_portal_url, customer_session_create

DETAIL_TEMPLATE = "customers/customer_detail.html"


def _portal_link(customer: Customer) -> tuple[str, int]:
    """A new session's portal URL, and how many minutes it works."""
    organization = customer.organization
    session, token = customer_session_create(
        customer=customer, return_url=organization.portal_return_url or None
    )
    session.organization = organization
    minutes = max(1, round((session.expires_at - session.created_at).total_seconds() / 60))
    return customer_portal_url(session, token), minutes


@login_required
@never_cache  # the response carries a session's token: keep it out of every cache
@require_POST
def portal_link_copy(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """Open a session and show its portal URL once, to copy: in the page's fragment for
    HTMX, else in the whole customer page. The URL is never stored anywhere else."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    customer.organization = membership.organization
    url, minutes = _portal_link(customer)
    extra = {"portal_link_url": url, "portal_link_minutes": minutes}
    if request.htmx:
        context = {"membership": membership, "organization": membership.organization}
        context |= {"customer": customer, **extra}
        response = render(request, f"{DETAIL_TEMPLATE}#portal_link", context)
    else:
        response = render(
            request, DETAIL_TEMPLATE, {**detail_context(request, membership, customer), **extra}
        )
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def portal_link_email(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """Open a session and email its portal URL to the customer, from the organization's
    name, replies to its support email. The worker sends it once this commits."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    organization = membership.organization
    customer.organization = organization
    url, minutes = _portal_link(customer)
    context = {"organization": organization, "customer": customer, "url": url}
    context["minutes"] = minutes
    email_send(
        to=customer.email,
        subject=render_to_string("portal/email/portal_link_subject.txt", context).strip(),
        text=render_to_string("portal/email/portal_link.txt", context),
        html=render_to_string("portal/email/portal_link.html", context),
        from_name=organization.name,
        reply_to=organization.portal_support_email,
        organization_id=organization.pk,
    )
    messages.success(
        request, f"Portal link emailed to {customer.email}; it works for {minutes} minutes."
    )
    return redirect("customers:detail", org_slug, customer.pk)

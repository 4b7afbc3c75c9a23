"""The overview page: the organization's figures over a range, against the previous one;
and one customer's figures, which the customer page loads.

Thin: load the membership (and the customer), let analytics/overview.py or
analytics/customer_figures.py assemble the page, render it whole or (for an HTMX request)
its partial.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from analytics.customer_figures import FORM_ID, build_customer_figures
from analytics.overview import build_overview
from customers.access import get_customer_or_404
from organizations.access import get_membership_or_404


@login_required
@require_GET
def overview(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = get_membership_or_404(request, org_slug)
    organization = membership.organization
    page = build_overview(organization=organization, params=request.GET, now=timezone.now())
    template = "analytics/overview.html"
    response = render(
        request,
        f"{template}#overview" if request.htmx else template,
        {"organization": organization, "membership": membership, "page": page},
        # Controls that do not make a range: the page with the errors beside the fields.
        status=200 if page.ok else 422,
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def customer_figures(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """The customer page's Figures section (for htmx), or a page of its own without
    JavaScript. The controls, sent from the customer page, push that page's URL with
    their query, so a reload keeps the range."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    organization = membership.organization
    page = build_customer_figures(
        organization=organization, customer=customer, params=request.GET, now=timezone.now()
    )
    template = "analytics/customer_figures.html"
    response = render(
        request,
        f"{template}#figures" if request.htmx else template,
        {
            "organization": organization,
            "membership": membership,
            "customer": customer,
            "page": page,
            "embedded": bool(request.htmx),
        },
        status=200 if page.ok else 422,
    )
    if request.htmx and request.htmx.trigger == FORM_ID:
        detail_url = reverse("customers:detail", args=[organization.slug, customer.pk])
        query = request.GET.urlencode()
        response["HX-Push-Url"] = f"{detail_url}?{query}" if query else detail_url
    patch_vary_headers(response, ["HX-Request"])
    return response

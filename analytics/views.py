"""The overview page: the organization's figures over a range, against the previous one.

Thin: load the membership, let analytics/overview.py assemble the page, render it whole or
(for an HTMX request) its `overview` partial.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from analytics.overview import build_overview
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

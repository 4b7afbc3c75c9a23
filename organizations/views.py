from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from organizations.models import Membership


@login_required
@require_GET
def dashboard_home(request: HttpRequest) -> HttpResponse:
    """Send the merchant to their organization's customers, or let them pick one."""
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name")
    )
    if len(memberships) == 1:
        return redirect("customers:list", memberships[0].organization.slug)
    return render(request, "organizations/choose.html", {"memberships": memberships})

"""The access helper for imports: an import of one of the signed-in user's organizations,
or 404 (organizations/access.py explains the rule)."""

from django.http import Http404, HttpRequest

from imports.models import CustomerImport
from organizations.access import get_membership_or_404
from organizations.models import Membership


def get_import_or_404(
    request: HttpRequest, org_slug: str, import_id
) -> tuple[Membership, CustomerImport]:
    """The membership and an import of its organization, or 404."""
    membership = get_membership_or_404(request, org_slug)
    try:
        customer_import = CustomerImport.objects.filter(organization=membership.organization).get(
            pk=import_id
        )
    except (CustomerImport.DoesNotExist, ValueError):
        raise Http404("No such import.") from None
    return membership, customer_import

"""The access helper for customers: a live customer of one of the signed-in user's
organizations, or 404 (organizations/access.py explains the rule)."""

from django.http import Http404, HttpRequest

from customers.duplicates import has_open_duplicates
from customers.models import Customer
from organizations.access import get_membership_or_404
from organizations.models import Membership


def get_customer_or_404(
    request: HttpRequest, org_slug: str, customer_id
) -> tuple[Membership, Customer]:
    """The membership and a live customer of its organization, or 404."""
    membership = get_membership_or_404(request, org_slug)
    try:
        customer = (
            Customer.objects.for_org(membership.organization)
            # The page's "possible duplicates" notice, in the same query.
            .annotate(has_open_duplicates=has_open_duplicates())
            .get(pk=customer_id)
        )
    except (Customer.DoesNotExist, ValueError):
        raise Http404("No such customer.") from None
    return membership, customer

"""Access helpers: the one way a dashboard view reaches tenant data.

Each helper scopes to the signed-in user's organizations and answers 404, never 403, for
anything else, so another organization's objects are indistinguishable from missing ones.
Within their own organization, members (not owners) get 403 on owner-only pages.
"""

from django.http import Http404, HttpRequest

from organizations.models import Membership


def get_membership_or_404(request: HttpRequest, org_slug: str) -> Membership:
    """The user's membership in the organization `org_slug`.

    One query loads all of the user's memberships: the current one, and the list the
    organization switcher shows (kept on `request.memberships`).
    """
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name")
    )
    request.memberships = memberships
    for membership in memberships:
        if membership.organization.slug == org_slug:
            return membership
    raise Http404("No such organization.")


def get_customer_or_404(request: HttpRequest, org_slug: str, customer_id):
    """The membership and a live customer of its organization, or 404."""
    from customers.models import Customer

    membership = get_membership_or_404(request, org_slug)
    try:
        customer = Customer.objects.for_org(membership.organization).get(pk=customer_id)
    except (Customer.DoesNotExist, ValueError):
        raise Http404("No such customer.") from None
    return membership, customer

"""Access helpers: the one way a dashboard view reaches tenant data.

Each helper scopes to the signed-in user's organizations and answers 404, never 403, for
anything else, so another organization's objects are indistinguishable from missing ones.
Within their own organization, members (not owners) get 403 on owner-only pages. Each
app's objects are reached through its own helper on top of these (customers/access.py).
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

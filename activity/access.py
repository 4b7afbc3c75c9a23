"""The access helper for notes: a note of a live customer of the user's organization, or
404 (organizations/access.py explains the rule)."""

from django.http import Http404, HttpRequest

from activity.models import Note
from customers.access import get_customer_or_404
from customers.models import Customer
from organizations.models import Membership


def get_note_or_404(
    request: HttpRequest, org_slug: str, customer_id, note_id
) -> tuple[Membership, Customer, Note]:
    """The membership, the customer and one of the customer's notes."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    try:
        note = Note.objects.for_customer(customer).get(pk=note_id)
    except (Note.DoesNotExist, ValueError):
        raise Http404("No such note.") from None
    return membership, customer, note

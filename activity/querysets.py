"""Reads of the timeline and of notes. A customer's entries start at
`Entry.objects.for_customer(customer)`, the organization's at `.for_org(organization)`."""

from django.db import models
from django.db.models import Q

# The timeline's filter chips: each names the type prefixes it shows ("all" shows every
# entry). Webhook deliveries will be `webhook.*` entries; the chip is there already.
TIMELINE_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "all": ("All", ()),
    "billing": ("Billing", ("order.", "subscription.", "checkout.")),
    "profile": ("Profile & metadata", ("customer.", "external_id.")),
    "notes": ("Notes", ("note.",)),
    "webhooks": ("Webhooks", ("webhook.",)),
}


class EntryQuerySet(models.QuerySet):
    def for_org(self, organization) -> "EntryQuerySet":
        return self.filter(organization=organization)

    def for_customer(self, customer) -> "EntryQuerySet":
        """The customer's entries, off the (customer, created_at, id) index. The customer
        was reached through its organization (an access helper), so the customer alone
        scopes them; naming the organization too let PostgreSQL walk the organization's
        index instead, row by row through every other customer's entries."""
        return self.filter(customer=customer)

    def of_kind(self, kind: str) -> "EntryQuerySet":
        """The entries a filter chip shows (an unknown kind shows them all). The prefixes
        are tested row by row while the timeline index is walked in order: a customer has
        at most thousands of entries, and a page stops at its 26th match."""
        _label, prefixes = TIMELINE_KINDS.get(kind, TIMELINE_KINDS["all"])
        if not prefixes:
            return self
        match = Q()
        for prefix in prefixes:
            match |= Q(type__startswith=prefix)
        return self.filter(match)


class NoteQuerySet(models.QuerySet):
    def for_customer(self, customer) -> "NoteQuerySet":
        return self.filter(organization_id=customer.organization_id, customer=customer)

    def for_timeline(self, customer, entries) -> "NoteQuerySet":
        """In one query: the customer's pinned notes and the notes the page's entries are
        about, newest first."""
        ids = {e.subject_id for e in entries if e.type.startswith("note.") and e.subject_id}
        return (
            self.for_customer(customer)
            .filter(Q(pinned=True) | Q(pk__in=ids))
            .order_by("-created_at", "-id")
        )

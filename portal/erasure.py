"""The portal's part in erasing a customer (core.erasure): the customer's sessions and
the sign-in codes asked for their email are deleted (one DELETE each), so no link or code
signs anyone in as them again."""

from core.erasure import Erasure
from portal.models import CustomerSession, PortalSignInCode


def scrub(erasure: Erasure) -> None:
    CustomerSession.objects.filter(
        organization_id=erasure.organization_id, customer_id__in=erasure.customer_ids
    ).delete()
    if erasure.emails:
        PortalSignInCode.objects.filter(
            organization_id=erasure.organization_id, email_lower__in=erasure.emails
        ).delete()

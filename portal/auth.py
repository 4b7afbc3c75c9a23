"""The portal API's authentication: `Authorization: Bearer polar_cst_...`, a customer
session token. Organization access tokens are refused here, and these tokens are refused
by the merchant routes (their auth takes only `polar_oat_` tokens)."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from portal.services import customer_session_authenticate


class CustomerSessionAuth(HttpBearer):
    """A usable customer session: sets `request.customer_session`, `request.customer` and
    `request.organization` (the customer's), and `request.auth` to the session, which the
    rate limit keys on."""

    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str):
        session = customer_session_authenticate(token)
        if session is None:
            return None
        request.customer_session = session
        request.customer = session.customer
        request.organization = session.organization
        return session

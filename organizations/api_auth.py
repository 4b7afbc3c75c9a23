"""The API's authentication: an organization access token (`Authorization: Bearer
polar_oat_...`) holding one of an operation's scopes. It lives with the tokens it checks;
every router imports `scopes` from here, and the idempotency middleware reads the token's
organization the same way (organizations/idempotency.py)."""

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from organizations.services import access_token_authenticate


class OrganizationTokenAuth(HttpBearer):
    """`Authorization: Bearer polar_oat_...`: an organization access token holding one of
    `scopes`. Checked before the body is read, so a token without the scope gets its 403
    whatever it sent."""

    openapi_scheme = "bearer"

    def __init__(self, *scopes: str):
        super().__init__()
        self.scopes = scopes

    def authenticate(self, request: HttpRequest, token: str):
        access_token = access_token_authenticate(token)
        if access_token is None:
            return None
        if self.scopes and not access_token.has_scope(*self.scopes):
            needed = " or ".join(self.scopes)
            raise AuthorizationError(message=f"This access token lacks the scope needed: {needed}.")
        request.organization = access_token.organization
        return access_token


def scopes(*names: str) -> OrganizationTokenAuth:
    """`auth=scopes("customers:read", "customers:write")`: any one of them will do."""
    return OrganizationTokenAuth(*names)

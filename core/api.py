"""The API toolkit every router shares: token auth with scopes, Polar's error shapes,
page-based pagination and the metadata check. `config/api.py` assembles the API."""

import math
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import AuthorizationError, ValidationError
from ninja.security import HttpBearer

from customers.metadata import metadata_errors
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


class ErrorOut(Schema):
    error: str
    detail: str


class ValidationDetail(Schema):
    type: str
    loc: list[str | int]
    msg: str
    input: Any = None


class ValidationErrorOut(Schema):
    error: Literal["PolarRequestValidationError"]
    detail: list[ValidationDetail]


# Documented on every operation, so clients (and the schema fuzzer) know every answer.
ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    413: ErrorOut,
    422: ValidationErrorOut,
}


class ApiError(Exception):
    """An error with Polar's name for it: `{"error": error, "detail": detail}`."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def validation_error(loc: list, msg: str, value: Any = None, type_: str = "value_error"):
    """A 422 for one bad input, in the shape pydantic errors take."""
    return ValidationError([{"type": type_, "loc": loc, "msg": msg, "input": value}])


def check_metadata(metadata, loc=("body", "metadata")) -> None:
    """422 with one entry per broken rule, each located at its key."""
    errors = metadata_errors(metadata)
    if errors:
        raise ValidationError(
            [
                {
                    "type": "value_error",
                    "loc": [*loc, *([key] if key is not None else [])],
                    "msg": message,
                    "input": metadata.get(key) if key is not None else None,
                }
                for key, message in errors
            ]
        )


def paginate(queryset: QuerySet, *, page: int, limit: int, serialize) -> dict:
    """Polar's page-based envelope: `{"items": [...], "pagination": {...}}`."""
    total = queryset.count()
    offset = (page - 1) * limit
    items = [serialize(obj) for obj in queryset[offset : offset + limit]] if offset < total else []
    return {
        "items": items,
        "pagination": {"total_count": total, "max_page": math.ceil(total / limit)},
    }

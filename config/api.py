"""The public JSON API: Polar-compatible paths, auth, errors and routers.

Shapes follow Polar's public API (version 2026-10), so the official `polar-sdk` client
works when given this server's base URL. Errors use Polar's bodies:
401/403/404 `{"error": ..., "detail": "..."}` and 422 `{"error":
"PolarRequestValidationError", "detail": [{"type", "loc", "msg", "input"}]}`.
"""

import logging
import math

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from ninja import NinjaAPI
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    Throttled,
    ValidationError,
)

from core.api import ApiError, JsonObjectParser, RateLimit
from core.outage import database_unavailable
from organizations.api_auth import OrganizationTokenAuth

logger = logging.getLogger(__name__)


class PolarNinjaAPI(NinjaAPI):
    def validation_error_from_error_contexts(self, error_contexts) -> ValidationError:
        """ninja's errors, located as Polar's clients expect: a query field's error names
        the query parameter even inside it (`["query", "sorting", 0]`), where ninja only
        maps exact locations and leaves the rest under the operation's argument
        (`["query", "filters", "sorting", 0]`)."""
        errors = []
        for context in error_contexts:
            model = context.model
            reverse = model.__ninja_flatten_map_reverse__
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = tuple(error["loc"])
                for cut in range(len(loc), 0, -1):
                    if loc[:cut] in reverse:
                        loc = reverse[loc[:cut]] + loc[cut:]
                        break
                error["loc"] = (model.__ninja_param_source__, *loc)
                error.pop("input", None)  # as ninja: a field's error does not echo it
                ctx = error.get("ctx")
                if ctx and isinstance(ctx.get("error"), Exception):
                    ctx["error"] = str(ctx["error"])
                errors.append(dict(error))
        return ValidationError(errors)


api = PolarNinjaAPI(
    title="Customers API",
    version="2026-10",
    description="Polar-compatible API for customers, orders, subscriptions and products. "
    "Authenticate with an organization access token: `Authorization: Bearer polar_oat_...`.",
    auth=OrganizationTokenAuth(),
    throttle=[RateLimit()],
    parser=JsonObjectParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request, status: int, error: str, detail) -> HttpResponse:
    return api.create_response(request, {"error": error, "detail": detail}, status=status)


@api.exception_handler(ValidationError)
def _on_validation_error(request, exc: ValidationError):
    detail = []
    for err in exc.errors:
        loc = list(err.get("loc", []))
        # ninja puts the operation's parameter name after "body"; Polar's clients expect
        # FastAPI's locations: ["body", "email"].
        if len(loc) >= 2 and loc[0] == "body" and loc[1] == "payload":
            loc = ["body", *loc[2:]]
        value = err.get("input")
        detail.append(
            {
                "type": err.get("type", "value_error"),
                "loc": loc,
                "msg": err.get("msg", "Invalid value."),
                "input": value if _is_json(value) else str(value),
            }
        )
    return _error(request, 422, "PolarRequestValidationError", detail)


@api.exception_handler(DjangoValidationError)
def _on_domain_error(request, exc: DjangoValidationError):
    """A rule of the domain (duplicate email, locked external ID, metadata) broken."""
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    detail = [
        {
            "type": "value_error",
            "loc": ["body"] if f == "__all__" else ["body", f],
            "msg": m,
            "input": None,
        }
        for f, messages in fields.items()
        for m in messages
    ]
    return _error(request, 422, "PolarRequestValidationError", detail)


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)  # a row gone meanwhile (two deletes racing)
def _on_not_found(request, exc):
    return _error(request, 404, "ResourceNotFound", "Not found")


@api.exception_handler(AuthenticationError)
def _on_unauthenticated(request, exc):
    response = _error(request, 401, "Unauthorized", "A valid access token is required.")
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(AuthorizationError)
def _on_forbidden(request, exc):
    return _error(request, 403, "NotPermitted", exc.message)


@api.exception_handler(ApiError)
def _on_api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.error, exc.detail)


@api.exception_handler(RequestDataTooBig)
def _on_too_big(request, exc):
    return _error(request, 413, "PayloadTooLarge", "The request body is too large.")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _on_database_outage(request, exc):
    return database_unavailable(request)


@api.exception_handler(Exception)
def _on_unexpected(request, exc):
    # Logged with its traceback for us; the client gets JSON, never a stack trace.
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return _error(request, 500, "InternalServerError", "Something went wrong on our side.")


@api.exception_handler(Throttled)
def _on_throttled(request, exc: Throttled):
    response = _error(request, 429, "TooManyRequests", "Rate limit exceeded; retry later.")
    response["Retry-After"] = str(max(1, math.ceil(exc.wait or 1)))
    return response


@api.exception_handler(HttpError)
def _on_http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, ValidationError):
        # ninja wraps whatever the body parser raises in a 400; JsonObjectParser's refusals
        # (a body that is not an object, text that is not Unicode) are 422s naming the field.
        return _on_validation_error(request, exc.__cause__)
    names = {400: "BadRequest", 403: "NotPermitted", 404: "ResourceNotFound", 409: "Conflict"}
    return _error(request, exc.status_code, names.get(exc.status_code, "Error"), exc.message)


def _is_json(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def _register_routers() -> None:
    from activity.api import TAG, TAG_DESCRIPTION
    from activity.api import router as timeline_router
    from analytics.api import router as metrics_router
    from checkouts.api import router as checkouts_router
    from customers.api import router as customers_router
    from customers.api_merge import TAG as MERGE_TAG
    from customers.api_merge import TAG_DESCRIPTION as MERGE_TAG_DESCRIPTION
    from customers.api_merge import router as merge_router
    from customers.api_privacy import TAG as PRIVACY_TAG
    from customers.api_privacy import TAG_DESCRIPTION as PRIVACY_TAG_DESCRIPTION
    from customers.api_privacy import router as privacy_router
    from imports.api import TAG as IMPORTS_TAG
    from imports.api import TAG_DESCRIPTION as IMPORTS_TAG_DESCRIPTION
    from imports.api import router as imports_router
    from orders.api import orders_router, products_router, subscriptions_router
    from portal.api import portal_router, sessions_router
    from webhooks.api import router as webhooks_router

    # Our extension (duplicates, merges), first: /customers/duplicates is no customer's ID.
    api.add_router("/customers/", merge_router)
    api.add_router("/customers/", customers_router)
    # Our extension beside them (/customers/{id}/timeline), tagged as not Polar's.
    api.add_router("/customers/", timeline_router)
    # Our extension too (/customers/{id}/data-export, /customers/{id}/erase).
    api.add_router("/customers/", privacy_router)
    api.add_router("/customer-imports/", imports_router)
    api.openapi_extra["tags"] = [
        {"name": TAG, "description": TAG_DESCRIPTION},
        {"name": IMPORTS_TAG, "description": IMPORTS_TAG_DESCRIPTION},
        {"name": MERGE_TAG, "description": MERGE_TAG_DESCRIPTION},
        {"name": PRIVACY_TAG, "description": PRIVACY_TAG_DESCRIPTION},
    ]
    api.add_router("/orders/", orders_router)
    api.add_router("/subscriptions/", subscriptions_router)
    api.add_router("/products/", products_router)
    api.add_router("/checkouts/", checkouts_router)
    api.add_router("/webhooks/", webhooks_router)
    api.add_router("/customer-sessions/", sessions_router)
    # Authenticated by a customer session token, never an organization's (portal.auth).
    api.add_router("/customer-portal/", portal_router)
    api.add_router("/metrics/", metrics_router)


_register_routers()

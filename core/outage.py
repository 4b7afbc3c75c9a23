"""When the database is briefly unreachable (a restart, a failover): a JSON 503 for the API
and a friendly page for people, both with Retry-After, never a stack trace. Recovery needs
no restart: the broken connection is dropped at the end of the request, and the next one
opens a fresh connection (CONN_HEALTH_CHECKS tests reused ones first)."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    logger.warning("Database unavailable during %s %s", request.method, request.path)
    if request.path.startswith("/v1/"):
        response = JsonResponse(
            {
                "error": "ServiceUnavailable",
                "detail": "The service is briefly unavailable; retry in a few seconds.",
            },
            status=503,
        )
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except DATABASE_ERRORS:
            return database_unavailable(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request)
        return None

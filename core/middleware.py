"""Request guards that apply to every page and API call."""

from urllib.parse import unquote_to_bytes

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import get_resolver

from core.changes import Source, acting
from core.views import bad_request


class RejectNulCharactersMiddleware:
    """Refuse NUL characters anywhere in a request (path, query or body).

    No field of ours can hold one, and PostgreSQL cannot store one in text at all: without
    this guard such input reaches the database and fails there as a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_path = request.META.get("PATH_INFO", "")
        query = request.META.get("QUERY_STRING", "")
        if (
            "\x00" in raw_path
            or b"\x00" in unquote_to_bytes(query)
            or (request.method in ("POST", "PUT", "PATCH") and _body_has_nul(request))
        ):
            return _refuse(request)
        return self.get_response(request)


def _body_has_nul(request: HttpRequest) -> bool:
    if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
        # An uploaded file may hold any byte, and reading the body here would hold an
        # upload of any size in memory: the views taking files check their text fields.
        return False
    try:
        body = request.body
    except Exception:  # too big: the view answers that with its own error
        return False
    if b"\x00" in body:
        return True
    # A form posts NUL as %00 (a literal "%00" is sent as %2500). JSON spells it \u0000,
    # but that text can also be an escaped backslash followed by "u0000": the API's parser
    # decodes the body and refuses a real NUL naming its field (core.api.JsonObjectParser).
    content_type = request.META.get("CONTENT_TYPE", "")
    return content_type.startswith("application/x-www-form-urlencoded") and b"%00" in body


def _refuse(request: HttpRequest) -> HttpResponse:
    message = "The request contains a NUL character, which no field accepts."
    if request.path.startswith("/v1/"):
        detail = [{"type": "value_error", "loc": ["request"], "msg": message, "input": None}]
        return JsonResponse({"error": "PolarRequestValidationError", "detail": detail}, status=422)
    return bad_request(message)


class GoneRowIsNotFoundMiddleware:
    """A row that vanished between a page's lookup and its write (two people deleting the
    same customer, say) is a 404, as the API answers it, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, ObjectDoesNotExist):
            return None
        not_found = get_resolver().resolve_error_handler(404)
        return not_found(request, Http404(str(exception)))


class ActingMiddleware:
    """Each request acts from its source (the API, the admin, a buyer's checkout, else the
    dashboard) under its request ID, as whoever it authenticates: every change it makes is
    recorded with them (core.changes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting(
            source=_source_of(request.path),
            request_id=getattr(request, "id", ""),
            request=request,
        ):
            return self.get_response(request)


def _source_of(path: str) -> str:
    if path.startswith(("/checkout/", "/v1/checkouts/client/")):
        return Source.CHECKOUT
    if path.startswith("/v1/"):
        return Source.API
    if path.startswith("/admin/"):
        return Source.ADMIN
    return Source.DASHBOARD

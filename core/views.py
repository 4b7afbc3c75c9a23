from django.db import connection
from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse
from django.views.decorators.cache import never_cache

from core import replicas


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and the demo script; with
    read replicas, how this process sees each of them (a replica down or behind is
    reported, not an error: reads go to the primary meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    body: dict = {"status": "ok"}
    if aliases := replicas.replica_aliases():
        body["replicas"] = {
            alias: {
                "usable": (h := replicas.health(alias)).usable,
                "lag_seconds": None if h.lag is None or h.lag == float("inf") else h.lag,
                "reason": h.reason,
            }
            for alias in aliases
        }
    return JsonResponse(body)


def bad_request(message: str) -> HttpResponseBadRequest:
    """A 400 that says what was wrong, as plain text: the page's script shows it in the
    page's alert area when it answers an htmx request (a rendered fragment answering 400,
    such as a form refused as damaged, is swapped in like any other)."""
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

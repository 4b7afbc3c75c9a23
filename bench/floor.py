"""The framework floor: the cheapest Django view that does the API's external-ID lookup.

Mounted at /bench/floor/<external_id> only when BENCH=true (config/urls.py). It runs the
same single query as `GET /v1/customers/external/{external_id}` (live customer of the
"scale" organization, by external ID, first by primary key) through the same middleware,
and returns JSON without auth, schema or serializer. Our API endpoint is reported as a
multiple of this view's latency: what the API layer adds over bare Django.
"""

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path

from customers.models import Customer
from organizations.models import Organization

SCALE_SLUG = "scale"
FIELDS = ("id", "created_at", "email", "external_id", "name", "metadata")

_organization_id = None


def _scale_organization_id():
    # Resolved once per process: the floor must not pay for a tenant lookup per request.
    global _organization_id
    if _organization_id is None:
        _organization_id = Organization.objects.values_list("pk", flat=True).get(slug=SCALE_SLUG)
    return _organization_id


def floor(request: HttpRequest, external_id: str) -> JsonResponse:
    row = (
        Customer.objects.filter(
            organization_id=_scale_organization_id(),
            deleted_at__isnull=True,
            external_id=external_id,
        )
        .values(*FIELDS)
        .first()
    )
    if row is None:
        raise Http404
    return JsonResponse(row)


urlpatterns = [path("floor/<str:external_id>", floor, name="bench_floor")]

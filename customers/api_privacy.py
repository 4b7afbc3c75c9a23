"""`/v1/customers/{id}/data-export` and `/v1/customers/{id}/erase`: a customer's data
exported and erased through the API (customers.privacy), each with its
`/external/{external_id}` twin.

Our extension, not part of Polar's API (the OpenAPI document tags it so). The export is
streamed (a customer with 10,000 orders costs a batch of rows in memory); the erasure is
irreversible and answers the erased profile. Both are on the customer's timeline and so in
the organization's audit log, with the token as the actor.
"""

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router

from core.api import ERRORS, found_or_404, json_response, uuid_or_404
from customers import privacy, services
from customers.models import Customer
from customers.schemas import CustomerOut, customer_out
from organizations.api_auth import scopes

TAG = "privacy (extension)"
TAG_DESCRIPTION = (
    "Our extension, not in Polar's API: everything kept about a customer as one JSON "
    "document (a data-subject access request), and the irreversible erasure of their "
    'personal data. README, "Privacy: export and erase", documents both.'
)

router = Router(tags=[TAG])

READ = scopes("customers:read", "customers:write")
WRITE = scopes("customers:write")

EXPORT_RESPONSES = {
    "responses": {
        200: {
            "description": "The export document (format_version 1), as a download.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
}


@router.get(
    "/{id}/data-export",
    response={200: dict, **ERRORS},
    summary="Export a customer's data",
    auth=READ,
    openapi_extra=EXPORT_RESPONSES,
)
def export_customer_data(request: HttpRequest, id: str):
    """Everything kept about the customer and the customers merged into it: profile,
    metadata, orders, subscriptions, checkouts, notes, timeline and the webhook events that
    carried them, as one JSON document (`format_version` 1), streamed as a download.

    **Scopes**: `customers:read` `customers:write`
    """
    return _export(_by_id(request, id))


@router.get(
    "/external/{external_id}/data-export",
    response={200: dict, **ERRORS},
    summary="Export a customer's data by external ID",
    auth=READ,
    openapi_extra=EXPORT_RESPONSES,
)
def export_customer_data_external(request: HttpRequest, external_id: str):
    """See `GET /v1/customers/{id}/data-export`.

    **Scopes**: `customers:read` `customers:write`
    """
    return _export(_by_external_id(request, external_id))


@router.post(
    "/{id}/erase",
    response={200: CustomerOut, **ERRORS},
    summary="Erase a customer's personal data",
    auth=WRITE,
)
def erase_customer(request: HttpRequest, id: str):
    """Irreversibly erase the customer's personal data, and that of the customers merged
    into it: the profile is anonymised (email `erased-<id>@erased.invalid`), notes deleted,
    the timeline, webhook payloads, checkouts and stored API replies scrubbed, portal
    sessions deleted; orders and their amounts stay. The customer is deleted
    (`customer.deleted` is sent with the erased profile), which this answers. Export
    first: nothing can bring the data back. A customer already erased or deleted is 404.

    **Scopes**: `customers:write`
    """
    key = services.CustomerKey(organization_id=request.organization.pk, id=uuid_or_404(id))
    return json_response(customer_out(privacy.customer_erase(customer=key)))


@router.post(
    "/external/{external_id}/erase",
    response={200: CustomerOut, **ERRORS},
    summary="Erase a customer's personal data by external ID",
    auth=WRITE,
)
def erase_customer_external(request: HttpRequest, external_id: str):
    """See `POST /v1/customers/{id}/erase`.

    **Scopes**: `customers:write`
    """
    key = services.CustomerKey(organization_id=request.organization.pk, external_id=external_id)
    return json_response(customer_out(privacy.customer_erase(customer=key)))


def _export(customer: Customer) -> StreamingHttpResponse:
    privacy.customer_export_audit(customer=customer)
    response = StreamingHttpResponse(
        privacy.customer_export_pieces(customer=customer), content_type="application/json"
    )
    name = privacy.export_filename(customer)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _by_id(request: HttpRequest, raw_id: str) -> Customer:
    customers = Customer.objects.for_org(request.organization).select_related("organization")
    return found_or_404(customers.filter(pk=uuid_or_404(raw_id)).first())


def _by_external_id(request: HttpRequest, external_id: str) -> Customer:
    customers = Customer.objects.for_org(request.organization).select_related("organization")
    return found_or_404(customers.filter(external_id=external_id).first())

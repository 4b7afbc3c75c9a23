"""`/v1/customers/`: thin operations over the customer services, Polar's shapes in and out.

Every route has an `/external/{external_id}` twin, so a merchant's backend can work with
its own user IDs without ever storing ours.
"""

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from core.api import (
    ERRORS,
    SearchText,
    check_metadata,
    excludes_our_organization,
    found_or_404,
    json_response,
    paginate,
    sort_enum,
    sort_order,
    uuid_or_404,
    validation_error,
)
from core.prepared import PreparedQuery
from customers import services
from customers.counts import created_day_seek, customer_count, metadata_count
from customers.export import csv_pieces
from customers.models import EMAIL_MAX_LENGTH, Customer, CustomerAlias
from customers.querysets import FIGURE_SORTINGS, SORTINGS, metadata_filters
from customers.schemas import (
    CustomerCreateIn,
    CustomerList,
    CustomerOut,
    CustomerState,
    CustomerUpdateExternalIn,
    CustomerUpdateIn,
    customer_out,
    customer_state_out,
    profile_changes,
)
from orders.models import Subscription
from organizations.api_auth import scopes

router = Router(tags=["customers"])

READ = scopes("customers:read", "customers:write")
WRITE = scopes("customers:write")
MAX_LIMIT = 100
CustomerSortProperty = sort_enum("CustomerSortProperty", SORTINGS)


class CustomerListQuery(Schema):
    organization_id: list[UUID] | None = None
    email: Annotated[str, StringConstraints(max_length=EMAIL_MAX_LENGTH)] | None = None
    query: SearchText | None = None
    active: bool | None = None
    page: int = Field(1, ge=1, le=10_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")
    sorting: list[CustomerSortProperty] = Field(
        ["-created_at"],
        description="Sort keys, `-` for descending. `lifetime_revenue` and `last_order_at` "
        "are this server's extension to Polar's (the customer's JSON shape is unchanged).",
    )


class ExportQuery(Schema):
    organization_id: list[UUID] | None = None


@router.get("/", response={200: CustomerList, **ERRORS}, summary="List customers", auth=READ)
def list_customers(request: HttpRequest, filters: Query[CustomerListQuery]):
    """List the organization's customers. Filter by metadata with `metadata[key]=value`
    (values of one key match any, different keys must all match).

    Beyond Polar's sort keys, this server sorts by `lifetime_revenue` (net of discounts
    and refunds, before tax, in the currency of the customer's first paid order) and
    `last_order_at` (the newest paid order; a customer without one sorts as the
    earliest): an extension, the customers' JSON is Polar's.

    **Scopes**: `customers:read` `customers:write`
    """
    customers = Customer.objects.for_org(request.organization)
    excluded = excludes_our_organization(request, filters.organization_id)
    if excluded:
        customers = customers.none()
    if filters.email:
        customers = customers.filter(email__iexact=filters.email.strip())
    metadata = metadata_filters(request.GET)
    for criterion in filters.sorting:
        if (field := SORTINGS[criterion.removeprefix("-")]) in FIGURE_SORTINGS:
            customers = customers.sorted_by_figure(field)
    customers = (
        customers.search(filters.query or "")
        .filter_active(filters.active)
        .filter_metadata(metadata)
        .order_by(*sort_order(filters.sorting, SORTINGS))
    )
    # Kept counters answer total_count for one metadata key alone, and for no filter or
    # `active` alone; otherwise the page proves it or the rows are counted (paginate).
    total = None
    searched = filters.email or (filters.query or "").strip()
    if not (excluded or searched):
        if metadata and filters.active is None:
            total = metadata_count(request.organization, metadata)
        elif not metadata:
            total = customer_count(request.organization, active=filters.active)
    limit = min(filters.limit, MAX_LIMIT)
    # Without a search or a metadata filter, the sorting's index (and on PostgreSQL the
    # active customers' one) holds every filter: a deep page is found among its IDs.
    # In creation order with no filter at all, the kept counts per day say where a deep
    # page starts (PostgreSQL).
    seek = None
    if filters.sorting in (["created_at"], ["-created_at"]) and not (
        excluded or searched or metadata or filters.active is not None
    ):
        seek = created_day_seek(request.organization, descending=filters.sorting[0][0] == "-")
    page = paginate(
        customers,
        page=filters.page,
        limit=limit,
        serialize=customer_out,
        total=total,
        ids_first=not (searched or metadata),
        seek=seek,
    )
    return json_response(page)


@router.post("/", response={201: CustomerOut, **ERRORS}, summary="Create a customer", auth=WRITE)
def create_customer(request: HttpRequest, payload: CustomerCreateIn):
    """Create a customer. The email and the external ID must be unused in the organization.

    **Scopes**: `customers:write`
    """
    if payload.organization_id and payload.organization_id != request.organization.pk:
        raise validation_error(
            ["body", "organization_id"],
            "The access token belongs to another organization.",
            str(payload.organization_id),
        )
    check_metadata(payload.metadata)
    data = payload.model_dump(exclude={"organization_id", "type"})
    changes = profile_changes(data)
    customer = services.customer_create(organization=request.organization, **changes)
    return json_response(customer_out(customer), status=201)


@router.get(
    "/export",
    summary="Export customers as CSV",
    response={200: str, **ERRORS},
    auth=READ,
    openapi_extra={
        "responses": {
            200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
        }
    },
)
def export_customers(request: HttpRequest, filters: Query[ExportQuery]):
    """Every live customer as CSV, streamed in constant memory.

    A text cell that a spreadsheet would run as a formula (one beginning with `=`, `+`,
    `-`, `@`, a tab or a carriage return, after any leading `'`) is written with a `'` in
    front, as OWASP recommends, and so is each piece after a `;` (where a spreadsheet's list
    separator is `;`, it starts a cell of its own); importing the file takes exactly those
    `'` off again.

    **Scopes**: `customers:read` `customers:write`
    """
    customers = Customer.objects.for_org(request.organization)
    if excludes_our_organization(request, filters.organization_id):
        customers = customers.none()
    response = StreamingHttpResponse(csv_pieces(customers), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


@router.get(
    "/external/{external_id}",
    response={200: CustomerOut, **ERRORS},
    summary="Get a customer by external ID",
    auth=READ,
)
def get_customer_external(request: HttpRequest, external_id: str):
    """**Scopes**: `customers:read` `customers:write`"""
    return json_response(customer_out(_by_external_id(request, external_id)))


@router.patch(
    "/external/{external_id}",
    response={200: CustomerOut, **ERRORS},
    summary="Update a customer by external ID",
    auth=WRITE,
)
def update_customer_external(
    request: HttpRequest, external_id: str, payload: CustomerUpdateExternalIn
):
    """Update the fields sent; `metadata` replaces the whole object.

    **Scopes**: `customers:write`
    """
    return json_response(customer_out(_update(_external_id_lookup(request, external_id), payload)))


@router.delete(
    "/external/{external_id}",
    response={204: None, **ERRORS},
    summary="Delete a customer by external ID",
    auth=WRITE,
)
def delete_customer_external(request: HttpRequest, external_id: str, anonymize: bool = False):
    """Soft-delete: see `DELETE /v1/customers/{id}`.

    **Scopes**: `customers:write`
    """
    services.customer_delete(
        customer=_external_id_lookup(request, external_id), anonymize=anonymize
    )
    return Status(204, None)


@router.get(
    "/external/{external_id}/state",
    response={200: CustomerState, **ERRORS},
    summary="Get a customer's state by external ID",
    auth=READ,
)
def get_customer_state_external(request: HttpRequest, external_id: str):
    """The customer and their active subscriptions.

    **Scopes**: `customers:read` `customers:write`
    """
    return _state(_by_external_id(request, external_id))


@router.get("/{id}", response={200: CustomerOut, **ERRORS}, summary="Get a customer", auth=READ)
def get_customer(request: HttpRequest, id: str):
    """**Scopes**: `customers:read` `customers:write`"""
    return json_response(customer_out(_by_id(request, id)))


@router.patch(
    "/{id}", response={200: CustomerOut, **ERRORS}, summary="Update a customer", auth=WRITE
)
def update_customer(request: HttpRequest, id: str, payload: CustomerUpdateIn):
    """Update the fields sent; `metadata` replaces the whole object. An external ID can be
    set while empty; once set it can never change ("Customer external ID cannot be
    updated.").

    **Scopes**: `customers:write`
    """
    return json_response(customer_out(_update(_id_lookup(request, id), payload)))


@router.delete("/{id}", response={204: None, **ERRORS}, summary="Delete a customer", auth=WRITE)
def delete_customer(request: HttpRequest, id: str, anonymize: bool = False):
    """Soft-delete a customer: their subscriptions are revoked at once, their email and
    external ID are freed, their orders are kept. With `anonymize=true`, personal data
    (email, name, billing details) is also scrubbed.

    **Scopes**: `customers:write`
    """
    services.customer_delete(customer=_id_lookup(request, id), anonymize=anonymize)
    return Status(204, None)


@router.get(
    "/{id}/state",
    response={200: CustomerState, **ERRORS},
    summary="Get a customer's state",
    auth=READ,
)
def get_customer_state(request: HttpRequest, id: str):
    """The customer and their active subscriptions.

    **Scopes**: `customers:read` `customers:write`
    """
    return _state(_by_id(request, id))


# --- Helpers ----------------------------------------------------------------------------


# The API's hottest reads, compiled once (see core/prepared.py).
_BY_ID = PreparedQuery(lambda p: Customer.objects.for_org(p.organization_id).filter(pk=p.id))
_BY_EXTERNAL_ID = PreparedQuery(
    lambda p: Customer.objects.for_org(p.organization_id).filter(external_id=p.external_id)
)


def _by_id(request: HttpRequest, raw_id: str) -> Customer:
    """404 alike for a malformed ID, a missing customer and another organization's. The
    ID of a customer merged away answers for the one it was merged into (its alias)."""
    customer_id = uuid_or_404(raw_id)
    organization_id = request.organization.pk
    customer = _BY_ID.first(organization_id=organization_id, id=customer_id)
    if customer is None and (
        survivor := CustomerAlias.survivor_id(organization_id, id=customer_id)
    ):
        customer = _BY_ID.first(organization_id=organization_id, id=survivor)
    return found_or_404(customer)


def _by_external_id(request: HttpRequest, external_id: str) -> Customer:
    organization_id = request.organization.pk
    customer = _BY_EXTERNAL_ID.first(organization_id=organization_id, external_id=external_id)
    if customer is None and (
        survivor := CustomerAlias.survivor_id(organization_id, external_id=external_id)
    ):
        customer = _BY_ID.first(organization_id=organization_id, id=survivor)
    return found_or_404(customer)


def _id_lookup(request: HttpRequest, raw_id: str) -> services.CustomerKey:
    """The customer an update names: the service reads and locks it in one statement (a
    missing one is Customer.DoesNotExist, answered as a 404)."""
    return services.CustomerKey(organization_id=request.organization.pk, id=uuid_or_404(raw_id))


def _external_id_lookup(request: HttpRequest, external_id: str) -> services.CustomerKey:
    return services.CustomerKey(organization_id=request.organization.pk, external_id=external_id)


def _update(customer, payload) -> Customer:
    data = payload.model_dump(exclude_unset=True, exclude={"type"})
    if data.get("metadata") is not None:
        check_metadata(data["metadata"])
    elif "metadata" in data:
        data["metadata"] = {}
    return services.customer_update(customer=customer, **profile_changes(data))


def _state(customer: Customer) -> dict:
    subscriptions = Subscription.objects.filter(customer=customer).active().order_by("created_at")
    return customer_state_out(customer, subscriptions)

"""`/v1/customers/duplicates`, `/v1/customers/{id}/merge-preview` and `/merge`: our
extension of Polar's API (tagged "Customers (merge)"), thin over customers.duplicates and
customers.merging.

Mounted before the customers router (config/api.py), so `/v1/customers/duplicates` is not
taken for a customer's ID. The merge operations name both customers by their own IDs and
follow no alias: a customer merged away is a 409 saying where it went, not silently the
survivor.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from core.api import ERRORS, ApiError, json_response, paginate, uuid_or_404
from customers import duplicates, merging
from customers.duplicates import REASON_LABELS
from customers.schemas import CustomerOut, customer_out
from organizations.api_auth import scopes

TAG = "Customers (merge)"
TAG_DESCRIPTION = (
    "This server's extension, not Polar's: likely duplicate customers, found in the "
    "background, and merging two customers into one (the merged one's IDs keep answering "
    "for the survivor)."
)
router = Router(tags=[TAG])

READ = scopes("customers:read", "customers:write")
WRITE = scopes("customers:write")
MAX_LIMIT = 100
Choice = Literal["customer", "from_customer"]


class DuplicatePairOut(Schema):
    id: int
    customer: CustomerOut
    other: CustomerOut
    reasons: list[str] = Field(description=", ".join(f"`{r}`" for r in REASON_LABELS))
    score: float = Field(description="How likely the two are one person, 0 to 1.")
    found_at: datetime


class DuplicatePairList(Schema):
    items: list[DuplicatePairOut]
    pagination: dict[str, int]


class DuplicatesQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(10, ge=1, description="Size of a page; at most 100 (larger is capped).")


class MergeIn(Schema):
    from_customer_id: UUID = Field(description="The customer merged away into `{id}`.")
    fields: dict[Literal["email", "name", "billing"], Choice] = Field(
        default_factory=dict,
        description="Whose value the survivor keeps, per group: `email` (with "
        "email_verified), `name`, `billing` (billing name, address, tax ID, locale). "
        "Left out: the survivor's, or the other's where the survivor has none.",
    )
    metadata: dict[str, Choice] = Field(
        default_factory=dict,
        description="For a key both hold with different values, whose value stays "
        "(default: the survivor's). The other keys of both are kept.",
    )


class MergeConfirmIn(MergeIn):
    expected_versions: dict[Literal["customer", "from_customer"], int] | None = Field(
        None,
        description="The `versions` the preview showed: if either customer changed since, "
        "the merge is refused with a 409. Send them.",
    )


class MergeFieldOut(Schema):
    field: str
    group: str
    choice: Choice
    customer: Any
    from_customer: Any
    result: Any


class MergeMetadataOut(Schema):
    key: str
    customer: Any
    from_customer: Any
    result: Any
    conflict: bool
    choice: Choice


class MergePreviewOut(Schema):
    customer: CustomerOut
    from_customer: CustomerOut
    versions: dict[str, int]
    fields: list[MergeFieldOut]
    metadata: list[MergeMetadataOut]
    external_id: str | None = Field(description="The survivor's external ID after the merge.")
    external_id_alias: str | None = Field(
        description="The merged customer's external ID, kept as an alias of the survivor."
    )
    moves: dict[str, int] = Field(
        description="How many orders, subscriptions, checkouts, notes and timeline entries "
        "move to the survivor."
    )


class MergeOut(Schema):
    customer: CustomerOut
    merged_customer_id: UUID
    moves: dict[str, int]


def _pair_out(pair) -> dict:
    return {
        "id": pair.pk,
        "customer": customer_out(pair.customer),
        "other": customer_out(pair.other),
        "reasons": pair.reasons,
        "score": pair.score,
        "found_at": pair.found_at,
    }


def _preview_out(plan: merging.MergePlan) -> dict:
    return {
        "customer": customer_out(plan.survivor),
        "from_customer": customer_out(plan.merged),
        "versions": {"customer": plan.survivor.version, "from_customer": plan.merged.version},
        "fields": [
            {k: row[k] for k in ("field", "group", "choice", "customer", "from_customer", "result")}
            for row in plan.fields
        ],
        "metadata": [
            {
                k: row[k]
                for k in ("key", "customer", "from_customer", "result", "conflict", "choice")
            }
            for row in plan.metadata
        ],
        "external_id": plan.external_id,
        "external_id_alias": plan.external_id_alias,
        "moves": plan.moves,
    }


@router.get(
    "/duplicates",
    response={200: DuplicatePairList, **ERRORS},
    summary="List likely duplicate customers",
    auth=READ,
)
def list_duplicates(request: HttpRequest, filters: Query[DuplicatesQuery]):
    """Pairs of live customers that look like one person, the likeliest first, with why
    (`reasons`) and how likely (`score`). Found in the background, a little after customers
    are created or changed; pairs dismissed in the dashboard are left out.

    **Scopes**: `customers:read` `customers:write`
    """
    page = paginate(
        duplicates.open_pairs(request.organization),
        page=filters.page,
        limit=min(filters.limit, MAX_LIMIT),
        serialize=_pair_out,
    )
    return json_response(page)


@router.post(
    "/{id}/merge-preview",
    response={200: MergePreviewOut, **ERRORS},
    summary="Preview merging a customer into this one",
    auth=READ,
)
def merge_preview(request: HttpRequest, id: str, payload: MergeIn):
    """What merging `from_customer_id` into `{id}` (the survivor) would do with these
    choices: every field of both and the result, the metadata union, and how much moves.
    Writes nothing.

    **Scopes**: `customers:read` `customers:write`
    """
    plan = _call(
        merging.merge_preview,
        organization=request.organization,
        customer_id=uuid_or_404(id),
        from_customer_id=payload.from_customer_id,
        fields=payload.fields,
        metadata=payload.metadata,
    )
    return json_response(_preview_out(plan))


@router.post(
    "/{id}/merge",
    response={200: MergeOut, **ERRORS},
    summary="Merge a customer into this one",
    auth=WRITE,
)
def merge(request: HttpRequest, id: str, payload: MergeConfirmIn):
    """Merge `from_customer_id` into `{id}`, in one transaction: its orders,
    subscriptions, checkouts, notes and timeline move to `{id}`; it is deleted
    (`customer.deleted`, with `merged_into`), and its ID and external ID keep answering
    for `{id}` (`GET /v1/customers/{old_id}`, `/v1/customers/external/{old_external_id}`).
    `{id}` keeps its own external ID; it takes the other's only if it has none.

    409 when either customer changed since the preview (`expected_versions`) or was merged
    away meanwhile; 404 for a customer missing, deleted or another organization's; 422
    for a customer into itself.

    **Scopes**: `customers:write`
    """
    plan = _call(
        merging.customer_merge,
        organization=request.organization,
        customer_id=uuid_or_404(id),
        from_customer_id=payload.from_customer_id,
        fields=payload.fields,
        metadata=payload.metadata,
        expected_versions=payload.expected_versions,
    )
    return json_response(
        {
            "customer": customer_out(plan.survivor),
            "merged_customer_id": plan.merged.pk,
            "moves": plan.moves,
        }
    )


def _call(service, **kwargs):
    try:
        return service(**kwargs)
    except merging.MergeConflict as error:
        raise ApiError(409, "Conflict", str(error)) from error

"""Dashboard pages for duplicates and merges: *Possible duplicates* (the scan's pairs, each
with Merge… and Not the same person) and a customer's merge page (choose the other
customer, see the preview side by side, confirm). Thin: customers.duplicates and
customers.merging hold the rules. Dismissing and merging are for owners (members get 403,
other organizations 404, as everywhere).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.paging import InvalidCursor, keyset_page
from core.views import bad_request
from customers import duplicates, merging
from customers.access import get_customer_or_404
from customers.models import Customer, DuplicatePair
from organizations.access import get_membership_or_404

PAGE_SIZE = 25


def _owners_only(request: HttpRequest, membership) -> HttpResponse:
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "organizations/forbidden.html", context, status=403)


@login_required
@require_GET
def duplicates_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's undismissed pairs, the likeliest first, keyset paged."""
    membership = get_membership_or_404(request, org_slug)
    try:
        page = keyset_page(
            duplicates.open_pairs(membership.organization),
            field="score",
            descending=True,
            cursor=request.GET.get("cursor"),
            limit=PAGE_SIZE,
        )
    except InvalidCursor as error:
        return bad_request(str(error))
    pairs = [
        {"pair": pair, "reasons": [duplicates.REASON_LABELS.get(r, r) for r in pair.reasons]}
        for pair in page.rows
    ]
    next_url = None
    if page.next_cursor:
        next_url = (
            reverse("customers:duplicates", args=[org_slug])
            + "?"
            + urlencode({"cursor": page.next_cursor})
        )
    context = {
        "membership": membership,
        "organization": membership.organization,
        "pairs": pairs,
        "next_url": next_url,
    }
    return render(request, "customers/duplicates.html", context)


@login_required
@require_POST
def duplicate_dismiss(request: HttpRequest, org_slug: str) -> HttpResponse:
    """ "Not the same person": the pair is never offered again."""
    membership = get_membership_or_404(request, org_slug)
    if not membership.is_owner:
        return _owners_only(request, membership)
    try:
        pair_id = int(request.POST.get("pair", ""))
        duplicates.pair_dismiss(
            organization=membership.organization, pair_id=pair_id, user=request.user
        )
    except ValueError:
        return bad_request("Which pair? The form did not say.")
    except DuplicatePair.DoesNotExist:
        raise Http404("No such pair.") from None
    messages.success(request, "Dismissed: the pair will not be offered again.")
    return redirect("customers:duplicates", org_slug)


@login_required
@require_http_methods(["GET", "POST"])
def customer_merge(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """Merge another customer into this one (the survivor).

    GET without `from`: choose the other customer (its likely duplicates, or any by ID or
    email). GET with `from`: the preview, with the choices as radio buttons (sent again by
    *Update preview*). POST: the merge, with the versions the preview showed."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    if not membership.is_owner:
        return _owners_only(request, membership)
    organization = membership.organization
    data = request.POST if request.method == "POST" else request.GET
    other_text = (data.get("from") or "").strip()
    context = {"membership": membership, "organization": organization, "customer": customer}
    if not other_text:
        context["candidates"] = _candidates(customer)
        return render(request, "customers/merge_preview.html", context)
    other = _find_other(organization, other_text)
    if other is None:
        context |= {"candidates": _candidates(customer), "from_error": "No such customer."}
        context["from_text"] = other_text
        return render(request, "customers/merge_preview.html", context, status=404)
    fields = {g: data[f"field_{g}"] for g in merging.FIELD_GROUPS if data.get(f"field_{g}")}
    metadata = {
        key.removeprefix("meta_"): value
        for key, value in data.items()
        if key.startswith("meta_") and value
    }
    status = 200
    try:
        if request.method == "POST":
            versions = {
                role: int(data.get(f"version_{role}", ""))
                for role in (merging.CUSTOMER, merging.FROM_CUSTOMER)
            }
            merging.customer_merge(
                organization=organization,
                customer_id=customer.pk,
                from_customer_id=other.pk,
                fields=fields,
                metadata=metadata,
                expected_versions=versions,
            )
            messages.success(
                request, f"{other.display_name} was merged into {customer.display_name}."
            )
            return redirect("customers:detail", org_slug, customer.pk)
        plan = merging.merge_preview(
            organization=organization,
            customer_id=customer.pk,
            from_customer_id=other.pk,
            fields=fields,
            metadata=metadata,
        )
    except ValueError:
        return bad_request("The form did not say which versions the preview showed.")
    except merging.MergeConflict as error:
        context["conflict"], status = str(error), 409
        plan = _preview_or_none(organization, customer, other)
    except ValidationError as error:
        context["errors"], status = error.messages, 422
        plan = _preview_or_none(organization, customer, other)
    except Customer.DoesNotExist:
        raise Http404("No such customer.") from None
    context |= {"plan": plan, "other": other}
    return render(request, "customers/merge_preview.html", context, status=status)


def _preview_or_none(organization, customer, other):
    """The preview with the default choices, to show beside an error (None if even that
    is refused: the other customer was merged away meanwhile)."""
    try:
        return merging.merge_preview(
            organization=organization, customer_id=customer.pk, from_customer_id=other.pk
        )
    except (merging.MergeConflict, ValidationError, Customer.DoesNotExist):
        return None


def _candidates(customer: Customer) -> list[dict]:
    """The customer's likely duplicates: the other of each open pair."""
    return [
        {
            "customer": pair.other if pair.customer_id == customer.pk else pair.customer,
            "score": pair.score,
            "reasons": [duplicates.REASON_LABELS.get(r, r) for r in pair.reasons],
        }
        for pair in duplicates.pairs_of(customer)[:20]
    ]


def _find_other(organization, text: str) -> Customer | None:
    """A live customer of the organization by ID, external ID or email."""
    customers = Customer.objects.for_org(organization)
    try:
        found = customers.filter(pk=text).first()
    except ValidationError:
        found = None
    return found or customers.filter(external_id=text).first() or customers.with_email(text).first()

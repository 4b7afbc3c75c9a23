"""Merchant dashboard pages for products: list, create, archive. The "try the checkout"
button posts to checkouts/views.py (checkouts sit above orders).

Thin views: load through an access helper, validate with a form, call a service, render.
HTMX requests get the page's `product_list` partial; every form also works as a plain POST.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_validation_errors
from orders import services
from orders.forms import ProductCreateForm, ProductListForm
from orders.models import Product
from organizations.access import get_membership_or_404
from organizations.models import Membership

TEMPLATE = "orders/products.html"


@login_required
@require_http_methods(["GET", "POST"])
def products(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's products, newest first, and the form to create one."""
    membership = get_membership_or_404(request, org_slug)
    form = ProductCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(
                organization=membership.organization, **form.service_arguments()
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            messages.success(request, f"Product “{product.name}” created.")
            return redirect("orders:products", org_slug)
    show_archived = archived_shown(request.GET)
    status = 422 if form.errors else 200
    partial = "product_list" if request.htmx and request.method == "GET" else None
    return _render(request, membership, show_archived, partial, form=form, status=status)


@login_required
@require_POST
def product_archive(request: HttpRequest, org_slug: str, product_id) -> HttpResponse:
    return _set_archived(request, org_slug, product_id, archived=True)


@login_required
@require_POST
def product_unarchive(request: HttpRequest, org_slug: str, product_id) -> HttpResponse:
    return _set_archived(request, org_slug, product_id, archived=False)


# --- Helpers ----------------------------------------------------------------------------


def _set_archived(request: HttpRequest, org_slug: str, product_id, *, archived: bool):
    membership = get_membership_or_404(request, org_slug)
    product = get_product_or_404(membership, product_id)
    show_archived = archived_shown(request.POST)
    if product.is_archived == archived:
        notice = f"“{product.name}” was already {'archived' if archived else 'on sale'}."
    else:
        services.product_update(product=product, is_archived=archived)
        notice = (
            f"“{product.name}” archived: it can no longer be bought."
            if archived
            else f"“{product.name}” is on sale again."
        )
    if request.htmx:
        return _render(request, membership, show_archived, "product_list", notice=notice)
    messages.success(request, notice)
    return redirect(products_url(org_slug, show_archived))


def get_product_or_404(membership: Membership, product_id) -> Product:
    """Also for checkouts' "try the checkout" view (checkouts/views.py)."""
    # Scoped to the membership's organization: another organization's product is missing.
    try:
        return Product.objects.for_org(membership.organization).get(pk=product_id)
    except Product.DoesNotExist:
        raise Http404("No such product.") from None


def _render(
    request: HttpRequest,
    membership: Membership,
    show_archived: bool,
    partial: str | None,
    *,
    form: ProductCreateForm | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only `partial` of it."""
    organization = membership.organization
    rows = Product.objects.for_org(organization).order_by("-created_at", "-pk")
    if not show_archived:
        rows = rows.filter(is_archived=False)
    context = {
        "membership": membership,
        "organization": organization,
        "products": list(rows),
        "show_archived": show_archived,
        "toggle_url": products_url(organization.slug, not show_archived),
        "form": form if form is not None else ProductCreateForm(),
        "notice": notice,
    }
    template = f"{TEMPLATE}#{partial}" if partial else TEMPLATE
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def archived_shown(data) -> bool:
    form = ProductListForm(data)
    return form.is_valid() and form.cleaned_data["archived"]


def products_url(org_slug: str, show_archived: bool) -> str:
    url = reverse("orders:products", args=[org_slug])
    return f"{url}?{urlencode({'archived': '1'})}" if show_archived else url

"""The hosted checkout page a merchant sends buyers to (by the checkout's client secret),
and the products page's "try the checkout" button that opens one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from checkouts import services
from checkouts.forms import CheckoutForm
from checkouts.models import Checkout, CheckoutError
from checkouts.payments import get_processor
from core.forms import add_validation_errors
from orders.views import archived_shown, get_product_or_404, products_url
from organizations.access import get_membership_or_404


def _get(client_secret: str) -> Checkout:
    checkout = (
        Checkout.objects.select_related("product", "organization")
        .filter(client_secret=client_secret)
        .first()
    )
    if checkout is None:
        raise Http404("No such checkout.")
    return checkout


@never_cache
@require_http_methods(["GET", "POST"])
def checkout_page(request: HttpRequest, client_secret: str) -> HttpResponse:
    checkout = _get(client_secret)
    if checkout.status == Checkout.Status.SUCCEEDED:
        return redirect("checkouts:done", client_secret)
    if checkout.is_expired(timezone.now()) or checkout.status == Checkout.Status.EXPIRED:
        return render(request, "checkouts/expired.html", {"checkout": checkout}, status=410)
    initial = {f: getattr(checkout, f) for f in CheckoutForm.base_fields if hasattr(checkout, f)}
    form = CheckoutForm(request.POST or None, initial=initial)
    payment_error = None
    if request.method == "POST" and form.is_valid():
        try:
            services.checkout_confirm(
                checkout=checkout,
                payment_token=form.cleaned_data["payment_token"],
                **form.buyer(),
            )
        except CheckoutError as error:
            payment_error = error.detail
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            if checkout.success_url:
                return redirect(checkout.success_url)
            return redirect("checkouts:done", client_secret)
    status = 200
    if request.method == "POST" and (payment_error or form.errors):
        status = 402 if payment_error else 422
    context = {
        "checkout": checkout,
        "product": checkout.product,
        "form": form,
        "payment_error": payment_error,
        "test_mode": get_processor().test_mode,
    }
    return render(request, "checkouts/checkout.html", context, status=status)


@never_cache
def checkout_done(request: HttpRequest, client_secret: str) -> HttpResponse:
    checkout = _get(client_secret)
    if checkout.status != Checkout.Status.SUCCEEDED:
        return redirect("checkouts:page", client_secret)
    return render(request, "checkouts/done.html", {"checkout": checkout})


@login_required
@require_POST
def product_checkout(request: HttpRequest, org_slug: str, product_id) -> HttpResponse:
    """Open a checkout for the product and go to its hosted page, as a buyer would. Served
    under the products pages' URL and name (`orders:product_checkout`, see config/urls.py)."""
    membership = get_membership_or_404(request, org_slug)
    product = get_product_or_404(membership, product_id)
    try:
        checkout = services.checkout_create(organization=membership.organization, product=product)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(products_url(org_slug, archived_shown(request.POST)))
    return redirect("checkouts:page", checkout.client_secret)

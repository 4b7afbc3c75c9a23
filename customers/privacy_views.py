"""The customer page's *Export data* and *Erase* (owners only; members get 403, other
organizations 404): thin views over customers.privacy.

*Export then erase* is one POST whose answer is the export file: the export is written
first, in the erasure's transaction, so the merchant either gets the file and the customer
is erased, or gets an error and nothing is erased; no erasure without its export.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from customers import privacy
from customers.access import get_customer_or_404
from customers.models import Customer
from customers.services import StaleCustomerError
from organizations.models import Membership


@login_required
@require_GET
def customer_data_export(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """Everything about the customer as one JSON document, streamed as a download."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    if not membership.is_owner:
        return _owners_only(request, membership, customer)
    privacy.customer_export_audit(customer=customer)
    response = StreamingHttpResponse(
        privacy.customer_export_pieces(customer=customer), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{privacy.export_filename(customer)}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def customer_erase(request: HttpRequest, org_slug: str, customer_id) -> HttpResponse:
    """The confirmation page (type the customer's email), and the erasure: with *Download
    the export* ticked, the answer is the export file."""
    membership, customer = get_customer_or_404(request, org_slug, customer_id)
    if not membership.is_owner:
        return _owners_only(request, membership, customer)
    error, status = None, 200
    with_export = request.GET.get("export") != "0"
    if request.method == "POST":
        with_export = request.POST.get("export") == "1"
        typed = request.POST.get("confirm_email", "").strip()
        version = request.POST.get("version", "")
        if typed.lower() != customer.email.lower():
            error, status = "Type the customer's email exactly to confirm.", 422
        elif not version.isdigit():
            error, status = "This form is out of date: open the page again.", 409
        else:
            try:
                return _erase(request, customer, int(version), with_export=with_export)
            except StaleCustomerError as stale:
                customer, error, status = stale.current, str(stale), 409
            except Customer.DoesNotExist:
                messages.info(request, "That customer was already erased or deleted.")
                return redirect("customers:list", org_slug)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "customer": customer,
        "error": error,
        "with_export": with_export,
        "merged_count": Customer.objects.filter(merged_into=customer).count(),
        "ongoing_subscriptions": customer.subscriptions.ongoing().count(),
    }
    return render(request, "customers/customer_erase.html", context, status=status)


def _erase(request: HttpRequest, customer: Customer, version: int, *, with_export: bool):
    name = privacy.export_filename(customer)
    if with_export:
        spool, _ = privacy.export_then_erase(
            customer=customer, erased_by=request.user, expected_version=version
        )
        return FileResponse(
            spool, as_attachment=True, filename=name, content_type="application/json"
        )
    privacy.customer_erase(customer=customer, erased_by=request.user, expected_version=version)
    messages.success(request, "The customer's personal data was erased.")
    return redirect("customers:list", customer.organization.slug)


def _owners_only(request: HttpRequest, membership: Membership, customer: Customer):
    context = {"membership": membership, "organization": membership.organization}
    context["customer"] = customer
    return render(request, "customers/privacy_owners_only.html", context, status=403)

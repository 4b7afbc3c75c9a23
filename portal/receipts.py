"""A paid order's receipt as a PDF: /portal/<org-slug>/orders/<id>/receipt.pdf.

WeasyPrint renders the same template partial as the hosted receipt page
(templates/portal/_receipt.html), so the HTML and the PDF never disagree. It lays the page
out with Pango (Debian's libpango-1.0-0 and libpangoft2-1.0-0, which scripts/bootstrap.sh
installs when it runs as root); it is imported when a PDF is asked for, not at start, so
a machine without Pango still serves everything else.
"""

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from orders.models import Order
from portal.models import CustomerSession
from portal.views import _context, portal_page

STYLESHEET = Path(__file__).with_name("receipt_pdf.css")


def paid_order_or_404(session: CustomerSession, order_id) -> Order:
    """The signed-in customer's paid order; anyone else's order, or an unpaid one, is a 404."""
    order = (
        Order.objects.for_org(session.organization)
        .filter(customer=session.customer, pk=order_id)
        .select_related("product")
        .first()
    )
    if order is None or not order.paid:
        raise Http404("No such receipt.")
    return order


def receipt_pdf_bytes(request: HttpRequest, session: CustomerSession, order: Order) -> bytes:
    """The receipt of `order` rendered to PDF, in the language active for the request."""
    import weasyprint

    html = render_to_string("portal/receipt_pdf.html", _context(session, order=order), request)
    # No base URL and no fetcher of outside resources: the document and its stylesheet
    # (read here, not fetched) are all there is, so rendering never reaches the network.
    stylesheet = weasyprint.CSS(string=STYLESHEET.read_text(), url_fetcher=_refuse_fetch)
    return weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).write_pdf(
        stylesheets=[stylesheet]
    )


def _refuse_fetch(url: str, *args, **kwargs):
    raise ValueError(f"The receipt PDF loads no outside resource ({url}).")


@never_cache
@require_http_methods(["GET"])
@portal_page
def receipt_pdf(request: HttpRequest, session: CustomerSession, order_id) -> HttpResponse:
    """A paid order's receipt as a PDF download (the same access rules as the page)."""
    order = paid_order_or_404(session, order_id)
    response = HttpResponse(
        receipt_pdf_bytes(request, session, order), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="receipt-{order.pk}.pdf"'
    return response

"""A paid order's receipt as a PDF (portal/receipts.py, WeasyPrint): the same content as the
hosted receipt page, and the same access rules."""

import io

import pytest
from django.test import Client
from pypdf import PdfReader

from core.templatetags.dashboard import money
from orders.models import Order
from portal.services import customer_session_create
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(shop):
    """A browser that followed the merchant's link for Ada."""
    _, token = customer_session_create(customer=shop["ada"])
    client = Client()
    assert client.get("/portal/acme/", {"customer_session_token": token}).status_code == 302
    return client


def _pdf_url(order) -> str:
    return f"/portal/acme/orders/{order.pk}/receipt.pdf"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_has_the_merchant_the_item_and_the_total(ada, shop):
    order = shop["purchase"]
    response = ada.get(_pdf_url(order))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{order.pk}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    text = _text(response.content)
    assert "Acme" in text
    assert "Handbook" in text
    assert "Total paid" in text
    assert str(money(order.total_amount, order.currency)) in text
    assert str(order.pk) in text


def test_the_receipt_page_links_to_its_pdf(ada, shop):
    order = shop["purchase"]
    content = ada.get(f"/portal/acme/orders/{order.pk}/receipt").content.decode()
    assert f'href="{_pdf_url(order)}"' in content
    assert "Download PDF" in content


def test_the_pdf_of_another_customer_or_an_unpaid_order_is_a_404(ada, shop):
    pending = OrderFactory(customer=shop["ada"], status=Order.Status.PENDING)
    for order in (shop["grace_order"], shop["otto_order"], pending):
        assert ada.get(_pdf_url(order)).status_code == 404


def test_without_the_portal_cookie_it_sends_to_the_sign_in_page(shop):
    response = Client().get(_pdf_url(shop["purchase"]))
    assert response.status_code == 302
    assert response["Location"] == "/portal/acme/"
    # Another portal's cookie does not open this one's receipts.
    _, token = customer_session_create(customer=shop["otto"])
    otto = Client()
    otto.get("/portal/other/", {"customer_session_token": token})
    assert otto.get(_pdf_url(shop["purchase"])).status_code == 302


def test_an_unknown_portal_is_a_404(shop):
    assert (
        Client().get(f"/portal/nobody/orders/{shop['purchase'].pk}/receipt.pdf").status_code == 404
    )

"""The hosted portal's pages: the merchant's link signs in (and drops its token), the
portal cookie, the customer's subscriptions, orders, receipts and billing details."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from activity.models import Entry
from orders.models import Order
from portal.models import CustomerSession
from portal.services import customer_session_create
from portal.views import COOKIE_NAME
from tests.factories import OrderFactory, SubscriptionFactory
from webhooks.models import EventType, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

HOME = "/portal/acme/"


def signed_in(customer, **kwargs) -> tuple[Client, CustomerSession]:
    """A browser that followed the merchant's link for `customer`."""
    session, token = customer_session_create(customer=customer, **kwargs)
    client = Client()
    response = client.get(HOME, {"customer_session_token": token})
    assert response.status_code == 302
    return client, session


@pytest.fixture
def ada(shop):
    client, session = signed_in(shop["ada"], return_url="https://acme.example/account")
    client.portal_session = session
    return client


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=list(EventType.values)
    )


# --- Signing in with the merchant's link ---------------------------------------------------


def test_the_link_signs_in_and_the_redirect_drops_the_token(shop):
    _, token = customer_session_create(customer=shop["ada"])
    client = Client()
    response = client.get(HOME, {"customer_session_token": token})
    assert response.status_code == 302
    assert response["Location"] == HOME
    assert token not in response["Location"]
    page = client.get(HOME)
    assert page.status_code == 200
    assert b"ada@example.com" in page.content
    assert b"Pro plan" in page.content


def test_the_portal_cookie_is_its_own_signed_httponly_lax_and_scoped_to_the_portal(shop, settings):
    settings.SESSION_COOKIE_SECURE = True
    session, token = customer_session_create(customer=shop["ada"])
    response = Client().get(HOME, {"customer_session_token": token})
    assert set(response.cookies) == {COOKIE_NAME}  # never the merchant's sessionid
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["path"] == "/portal/acme/"
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"
    assert str(session.pk) in cookie.value
    assert token not in cookie.value
    assert 0 < int(cookie["max-age"]) <= 3600


def test_a_tampered_cookie_is_not_signed_in(shop):
    client = Client()
    session, _ = customer_session_create(customer=shop["ada"])
    client.cookies[COOKIE_NAME] = str(session.pk)  # unsigned
    response = client.get(HOME)
    assert b"Email me a code" in response.content
    assert b"ada@example.com" not in response.content


def test_a_bad_link_shows_the_sign_in_form(shop):
    response = Client().get(HOME, {"customer_session_token": "polar_cst_nope"})
    assert response.status_code == 200
    assert b"This link has expired" in response.content
    assert COOKIE_NAME not in response.cookies


@pytest.mark.parametrize("end", ["expire", "revoke"])
def test_an_expired_or_revoked_session_goes_back_to_the_sign_in_form(ada, end):
    session = ada.portal_session
    if end == "expire":
        session.expires_at = timezone.now() - timedelta(seconds=1)
        session.save()
    else:
        session.revoked_at = timezone.now()
        session.save()
    response = ada.get(HOME)
    assert response.status_code == 200
    assert b"Email me a code" in response.content
    assert b"Pro plan" not in response.content
    receipt = ada.get(f"/portal/acme/orders/{ada.portal_session.pk}/receipt")
    assert receipt.status_code == 302


def test_another_organizations_customer_never_opens_this_portal(shop):
    _, token = customer_session_create(customer=shop["otto"])
    client = Client()
    response = client.get(HOME, {"customer_session_token": token})
    assert response.status_code == 200
    assert COOKIE_NAME not in response.cookies
    assert b"otto@example.com" not in response.content
    # Signed in to their own portal, the cookie does not open ours.
    client.get("/portal/other/", {"customer_session_token": token})
    assert b"Email me a code" in client.get(HOME).content


def test_an_unknown_portal_is_a_404(db):
    assert Client().get("/portal/nobody/").status_code == 404


# --- Home ---------------------------------------------------------------------------------


def test_home_lists_subscriptions_orders_and_the_back_link(ada, shop):
    response = ada.get(HOME)
    content = response.content.decode()
    assert "Acme" in content
    assert 'href="https://acme.example/account"' in content
    assert "Pro plan" in content
    renewal = shop["subscription"].current_period_end
    assert f"Renews on {date_format(timezone.localtime(renewal), 'DATE_FORMAT')}." in content
    assert "USD" in content  # money as the rest of the app formats it
    for order in ("renewal", "purchase"):
        assert f"/portal/acme/orders/{shop[order].pk}/receipt" in content
    # Grace's and Otto's are not Ada's.
    assert str(shop["grace_order"].pk) not in content
    assert str(shop["grace_subscription"].pk) not in content


def test_home_runs_a_fixed_number_of_queries(ada, shop, django_assert_num_queries):
    for _ in range(5):
        OrderFactory(customer=shop["ada"], product=shop["book"], status=Order.Status.PAID)
        SubscriptionFactory(customer=shop["ada"], product=shop["plan"])
    # 1. the session, with its customer and organization (one join)
    # 2. the active subscriptions, with their products
    # 3. the latest orders, with their products
    with django_assert_num_queries(3):
        response = ada.get(HOME)
    assert response.status_code == 200


# --- Cancel at period end, and undo ----------------------------------------------------------


def test_cancel_asks_to_confirm_then_undo_records_the_customer_from_the_portal(ada, shop, endpoint):
    subscription = shop["subscription"]
    cancel = f"/portal/acme/subscriptions/{subscription.pk}/cancel/"
    assert cancel in ada.get(HOME).content.decode()
    confirm = ada.get(cancel)
    assert confirm.status_code == 200
    assert b"Cancel your subscription?" in confirm.content
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is False  # a GET changes nothing

    response = ada.post(cancel)
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is True
    page = ada.get(HOME).content.decode()
    assert "will not renew" in page
    uncancel = f"/portal/acme/subscriptions/{subscription.pk}/uncancel/"
    assert uncancel in page
    assert ada.post(uncancel).status_code == 302
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is False

    ada_customer = shop["ada"]
    for type in ("subscription.canceled", "subscription.uncanceled"):
        (entry,) = Entry.objects.filter(customer=ada_customer, type=type)
        assert (entry.actor_type, entry.actor_id, entry.source) == (
            "customer",
            str(ada_customer.pk),
            "portal",
        )
        assert WebhookEvent.objects.filter(type=type).count() == 1


def test_another_customers_subscription_is_a_404(ada, shop):
    for other in ("grace_subscription", "otto_subscription"):
        path = f"/portal/acme/subscriptions/{shop[other].pk}/cancel/"
        assert ada.get(path).status_code == 404
        assert ada.post(path).status_code == 404
        shop[other].refresh_from_db()
        assert shop[other].cancel_at_period_end is False


# --- Billing details -----------------------------------------------------------------------


def test_billing_details_show_an_error_beside_the_field(ada, shop):
    response = ada.post("/portal/acme/billing/", {"name": "Ada", "billing_address_country": "ZZ"})
    assert response.status_code == 422
    content = response.content.decode()
    # Django's field group puts the error list inside the field's own group.
    country = content.index('name="billing_address_country"')
    error = content.index('id="id_billing_address_country_error"')
    assert abs(country - error) < 600
    shop["ada"].refresh_from_db()
    assert shop["ada"].billing_address_country == ""


def test_billing_details_are_saved_as_the_customer(ada, shop, endpoint):
    response = ada.post(
        "/portal/acme/billing/",
        {
            "name": "Ada Lovelace",
            "billing_name": "Analytical Engines Ltd",
            "billing_address_line1": "12 St James's Square",
            "billing_address_city": "London",
            "billing_address_postal_code": "SW1Y 4JH",
            "billing_address_country": "GB",
            "tax_id": "GB123456789",
        },
    )
    assert response.status_code == 302
    ada_customer = shop["ada"]
    ada_customer.refresh_from_db()
    assert ada_customer.billing_address_city == "London"
    assert ada_customer.tax_id == "GB123456789"
    assert ada_customer.email == "ada@example.com"
    (entry,) = Entry.objects.filter(customer=ada_customer, type="customer.updated")
    assert (entry.actor_type, entry.source) == ("customer", "portal")
    assert WebhookEvent.objects.filter(type="customer.updated").count() == 1
    assert b"Your billing details are saved." in ada.get(HOME).content


def test_the_email_and_external_id_cannot_be_posted(ada, shop):
    ada.post(
        "/portal/acme/billing/",
        {"name": "Ada", "email": "mallory@example.com", "external_id": "other"},
    )
    shop["ada"].refresh_from_db()
    assert (shop["ada"].email, shop["ada"].external_id) == ("ada@example.com", "user_42")


# --- Receipts ------------------------------------------------------------------------------


def test_a_receipt_is_printable_html(ada, shop):
    order = shop["purchase"]
    response = ada.get(f"/portal/acme/orders/{order.pk}/receipt")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Receipt" in content and "Handbook" in content
    assert "portal.css" in content  # its @media print rules hide the page's chrome


def test_a_receipt_of_another_customer_or_an_unpaid_order_is_a_404(ada, shop):
    pending = OrderFactory(customer=shop["ada"], status=Order.Status.PENDING)
    for order in (shop["grace_order"], shop["otto_order"], pending):
        assert ada.get(f"/portal/acme/orders/{order.pk}/receipt").status_code == 404


# --- Sign out, CSRF, the page's headers -------------------------------------------------------


def test_sign_out_revokes_the_session_and_deletes_the_cookie(ada):
    response = ada.post("/portal/acme/sign-out/")
    assert response.status_code == 302
    cookie = response.cookies[COOKIE_NAME]
    assert cookie.value == "" and cookie["path"] == "/portal/acme/"
    ada.portal_session.refresh_from_db()
    assert ada.portal_session.revoked_at is not None


def test_posts_need_the_csrf_token(shop):
    _, token = customer_session_create(customer=shop["ada"])
    client = Client(enforce_csrf_checks=True)
    client.get(HOME, {"customer_session_token": token})
    subscription = shop["subscription"]
    path = f"/portal/acme/subscriptions/{subscription.pk}/cancel/"
    assert client.post(path).status_code == 403
    assert client.post("/portal/acme/sign-out/").status_code == 403
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is False
    # With the token from the confirmation page's form, it goes through.
    page = client.get(path)
    csrf = page.context["csrf_token"]
    assert client.post(path, {"csrfmiddlewaretoken": str(csrf)}).status_code == 302
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is True


def test_pages_carry_the_csp_and_no_inline_script(ada, shop):
    response = ada.get(HOME)
    assert "Content-Security-Policy" in response.headers
    assert b"<script>" not in response.content
    assert b"style=" not in response.content
    assert (
        "no-cache" in response.headers["Cache-Control"]
        or "max-age=0" in response.headers["Cache-Control"]
    )


def test_an_untranslated_locale_gets_english(shop):
    customer = shop["ada"]
    customer.locale = "xx-YY"
    customer.save()
    client, _ = signed_in(customer)
    assert b"Subscriptions" in client.get(HOME).content


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(shop):
    client = Client()
    subscription, order = shop["subscription"], shop["purchase"]
    for method, path in [
        ("get", f"/portal/acme/subscriptions/{subscription.pk}/cancel/"),
        ("post", f"/portal/acme/subscriptions/{subscription.pk}/cancel/"),
        ("post", "/portal/acme/billing/"),
        ("get", f"/portal/acme/orders/{order.pk}/receipt"),
    ]:
        response = getattr(client, method)(path, {"name": "Mallory"} if method == "post" else {})
        assert (response.status_code, response["Location"]) == (302, HOME), path
    subscription.refresh_from_db()
    shop["ada"].refresh_from_db()
    assert subscription.cancel_at_period_end is False
    assert shop["ada"].name == "Ada"
    assert Client().get(f"/portal/nobody/orders/{order.pk}/receipt").status_code == 404

"""Settings → Customer portal: owners choose what customers may do in the portal, its
support email and default return URL; the hosted pages and the portal API both obey."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import OutgoingEmail
from organizations.models import Organization
from tests.factories import CustomerFactory, ProductFactory, SubscriptionFactory
from tests.portal.helpers import portal_client, session_token

pytestmark = pytest.mark.django_db

SETTINGS = "/dashboard/acme/settings/portal/"
HOME = "/portal/acme/"


@pytest.fixture
def shop(organization):
    """Ada, a customer of Acme, with a subscription to its Pro plan."""
    ada = CustomerFactory(organization=organization, email="ada@example.com", name="Ada")
    plan = ProductFactory(organization=organization, name="Pro plan")
    return {"ada": ada, "subscription": SubscriptionFactory(customer=ada, product=plan)}


def signed_in(customer, **kwargs) -> Client:
    """A browser signed in to the portal as `customer`."""
    browser = Client()
    response = browser.get(HOME, {"customer_session_token": session_token(customer, **kwargs)})
    assert response.status_code == 302
    return browser


def valid(**overrides) -> dict:
    data = {
        "portal_allow_subscription_cancel": "on",
        "portal_allow_billing_update": "on",
        "portal_support_email": "",
        "portal_return_url": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_defaults_allow_both_actions_with_no_email_or_url(organization):
    organization = Organization.objects.get(pk=organization.pk)
    assert organization.portal_allow_subscription_cancel
    assert organization.portal_allow_billing_update
    assert organization.portal_support_email == ""
    assert organization.portal_return_url == ""


def test_owners_change_the_settings(client, owner, organization):
    client.force_login(owner)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert "Customer portal" in page.text and "Support email" in page.text
    response = client.post(
        SETTINGS,
        valid(
            portal_allow_subscription_cancel=None,
            portal_support_email=" Help@Acme.Example ",
            portal_return_url="https://acme.example/account",
        ),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == SETTINGS
    assert "Customer portal settings saved." in response.text
    organization.refresh_from_db()
    assert not organization.portal_allow_subscription_cancel
    assert organization.portal_allow_billing_update
    assert organization.portal_support_email == "help@acme.example"
    assert organization.portal_return_url == "https://acme.example/account"
    assert organization.name == "Acme"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("portal_support_email", "not an email", "Enter an email address"),
        ("portal_return_url", "ftp://acme.example/", "Enter an http:// or https:// address"),
        ("portal_return_url", "javascript:alert(1)", "Enter an http:// or https:// address"),
        ("portal_return_url", "acme", "Enter an http:// or https:// address"),
    ],
)
def test_the_form_validates(client, owner, organization, field, value, message):
    client.force_login(owner)
    response = client.post(SETTINGS, valid(**{field: value}))
    assert response.status_code == 422
    assert message in response.text
    organization.refresh_from_db()
    assert getattr(organization, field) == ""


def test_members_can_neither_see_nor_change_the_settings(client, member, organization):
    client.force_login(member)
    assert client.get(SETTINGS).status_code == 403
    response = client.post(SETTINGS, valid(portal_allow_billing_update=None))
    assert response.status_code == 403
    organization.refresh_from_db()
    assert organization.portal_allow_billing_update


def test_outsiders_get_404_and_anonymous_visitors_sign_in(client, outsider, organization):
    assert client.get(SETTINGS).status_code == 302
    client.force_login(outsider)
    assert client.post(SETTINGS, valid(portal_allow_billing_update=None)).status_code == 404
    organization.refresh_from_db()
    assert organization.portal_allow_billing_update


def test_the_tokens_page_links_to_the_portal_settings(client, owner):
    client.force_login(owner)
    assert SETTINGS in client.get(reverse("organizations:tokens", args=["acme"])).text


# --- The portal obeys ----------------------------------------------------------------------


def test_with_both_allowed_the_home_page_offers_both(shop):
    page = signed_in(shop["ada"]).get(HOME).text
    assert "Cancel subscription" in page
    assert "Save billing details" in page


def test_disabled_cancel_hides_the_button_and_refuses_page_and_api(shop, organization):
    organization.portal_allow_subscription_cancel = False
    organization.save()
    ada, subscription = shop["ada"], shop["subscription"]
    browser = signed_in(ada)
    page = browser.get(HOME).text
    assert "Pro plan" in page
    assert "Cancel subscription" not in page and "Keep subscription" not in page
    action = f"/portal/acme/subscriptions/{subscription.pk}/cancel/"
    confirm = browser.get(action)
    assert confirm.status_code == 403
    assert "Subscriptions cannot be canceled here" in confirm.text
    assert browser.post(action).status_code == 403
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end

    api = portal_client(ada)
    url = f"/v1/customer-portal/subscriptions/{subscription.pk}"
    for response in (
        api.patch(url, {"cancel_at_period_end": True}, content_type="application/json"),
        api.delete(url),
    ):
        assert response.status_code == 403
        assert response.json() == {
            "error": "NotPermitted",
            "detail": "This organization does not let customers cancel subscriptions here.",
        }
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    # Reading still works.
    assert api.get(url).status_code == 200


def test_disabled_cancel_also_refuses_undoing_a_cancellation(shop, organization):
    subscription = shop["subscription"]
    subscription.cancel_at_period_end = True
    subscription.save()
    organization.portal_allow_subscription_cancel = False
    organization.save()
    browser = signed_in(shop["ada"])
    assert "Keep subscription" not in browser.get(HOME).text
    assert (
        browser.post(f"/portal/acme/subscriptions/{subscription.pk}/uncancel/").status_code == 403
    )
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end


def test_disabled_billing_hides_the_form_and_refuses_page_and_api(shop, organization):
    organization.portal_allow_billing_update = False
    organization.save()
    ada = shop["ada"]
    browser = signed_in(ada)
    page = browser.get(HOME).text
    assert "Billing details" in page and "Save billing details" not in page
    assert "please contact us" in page
    response = browser.post("/portal/acme/billing/", {"name": "Mallory", "billing_name": "M"})
    assert response.status_code == 403
    assert "Billing details cannot be changed here" in response.text

    api = portal_client(ada)
    response = api.patch(
        "/v1/customer-portal/customers/me", {"name": "Mallory"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "NotPermitted",
        "detail": "This organization does not let customers update billing details here.",
    }
    ada.refresh_from_db()
    assert ada.name == "Ada"
    assert api.get("/v1/customer-portal/customers/me").status_code == 200


def test_the_support_email_is_shown_on_the_home_page(shop, organization):
    browser = signed_in(shop["ada"])
    assert "Questions? Write to" not in browser.get(HOME).text
    organization.portal_support_email = "help@acme.example"
    organization.save()
    page = browser.get(HOME).text
    assert "Questions? Write to" in page
    assert 'href="mailto:help@acme.example"' in page


def test_the_sign_in_email_replies_to_the_support_email(shop, organization, smtp_server):
    from core.emails import send_due_emails

    organization.portal_support_email = "help@acme.example"
    organization.save()
    Client().post("/portal/acme/sign-in/", {"email": "ada@example.com"})
    assert OutgoingEmail.objects.get().reply_to == "help@acme.example"
    assert send_due_emails() == 1
    [message] = smtp_server.messages
    assert message["Reply-To"] == "help@acme.example"


def test_without_a_support_email_the_sign_in_email_has_no_reply_to(shop):
    Client().post("/portal/acme/sign-in/", {"email": "ada@example.com"})
    assert OutgoingEmail.objects.get().reply_to == ""


def test_the_default_return_url_serves_sessions_without_one(shop, organization):
    organization.portal_return_url = "https://acme.example/account"
    organization.save()
    ada = shop["ada"]
    page = signed_in(ada).get(HOME).text
    assert 'href="https://acme.example/account"' in page and "Back to Acme" in page
    # A session's own return URL wins.
    page = signed_in(ada, return_url="https://acme.example/billing").get(HOME).text
    assert 'href="https://acme.example/billing"' in page
    assert 'href="https://acme.example/account"' not in page
    introspect = portal_client(ada).get("/v1/customer-portal/customer-session/introspect")
    assert introspect.json()["return_url"] == "https://acme.example/account"

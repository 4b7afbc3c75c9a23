"""The dashboard's portal links on a customer's page: *Copy portal link* shows a working
URL once, *Email portal link* queues an email holding one; members may use both, another
organization's customer (or a deleted one) is a 404."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from core.emails import send_due_emails
from core.models import OutgoingEmail
from customers.services import customer_delete
from portal.models import CustomerSession
from portal.views import COOKIE_NAME

pytestmark = pytest.mark.django_db

URL_IN_TEXT = re.compile(r"https?://\S+customer_session_token=\S+")


def copy_url(customer) -> str:
    return reverse("portal_links:copy", args=[customer.organization.slug, customer.pk])


def email_url(customer) -> str:
    return reverse("portal_links:email", args=[customer.organization.slug, customer.pk])


def assert_signs_in(url: str, customer) -> None:
    """A fresh browser following `url` is signed in as `customer`."""
    path = url.removeprefix("http://testserver").removeprefix("http://localhost:8000")
    visitor = Client()
    response = visitor.get(path)
    assert response.status_code == 302
    assert COOKIE_NAME in response.cookies
    page = visitor.get(response["Location"])
    assert page.status_code == 200
    assert customer.email in page.text
    assert "Your account" in page.text


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://testserver"
    settings.DEFAULT_FROM_EMAIL = "Customers <noreply@customers.example>"


def test_the_customer_page_offers_both_links(client, owner, shop):
    client.force_login(owner)
    ada = shop["ada"]
    page = client.get(reverse("customers:detail", args=["acme", ada.pk])).text
    assert "Copy portal link" in page and copy_url(ada) in page
    assert "Email portal link" in page and email_url(ada) in page


@pytest.mark.parametrize("user", ["owner", "member"])
def test_copy_link_shows_a_working_url_once_in_the_fragment(client, request, user, shop):
    client.force_login(request.getfixturevalue(user))
    ada = shop["ada"]
    response = client.post(copy_url(ada), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="portal-link"' in response.text
    assert "<html" not in response.text  # just the fragment
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    url = re.search(r'id="portal-link-url" class="mono" value="([^"]+)"', response.text).group(1)
    assert "readonly" in response.text and f'data-copy="{url}"' in response.text
    session = CustomerSession.objects.get()
    assert session.customer == ada
    assert session.return_url == ""
    assert_signs_in(url.replace("&amp;", "&"), ada)


def test_copy_link_without_javascript_shows_the_whole_page(client, owner, shop):
    client.force_login(owner)
    ada = shop["ada"]
    response = client.post(copy_url(ada))
    assert response.status_code == 200
    assert "<html" in response.text and "Lifetime revenue" in response.text
    url = URL_IN_TEXT.search(response.text).group(0).split('"')[0]
    assert_signs_in(url, ada)


def test_copy_link_uses_the_organizations_default_return_url(client, owner, shop, organization):
    organization.portal_return_url = "https://acme.example/account"
    organization.save()
    client.force_login(owner)
    client.post(copy_url(shop["ada"]), headers={"HX-Request": "true"})
    assert CustomerSession.objects.get().return_url == "https://acme.example/account"


@pytest.mark.parametrize("user", ["owner", "member"])
def test_email_link_queues_an_email_with_a_working_link(
    client, request, user, shop, organization, smtp_server
):
    organization.portal_support_email = "help@acme.example"
    organization.save()
    client.force_login(request.getfixturevalue(user))
    ada = shop["ada"]
    response = client.post(email_url(ada), follow=True)
    assert response.redirect_chain[-1][0] == reverse("customers:detail", args=["acme", ada.pk])
    assert "Portal link emailed to ada@example.com" in response.text
    row = OutgoingEmail.objects.get()
    assert (row.to, row.from_name, row.reply_to) == ("ada@example.com", "Acme", "help@acme.example")
    assert smtp_server.messages == []  # sent by the worker, never in the request

    assert send_due_emails() == 1
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert "Acme" in message["From"]
    assert message["Reply-To"] == "help@acme.example"
    text = message.get_body(("plain",)).get_content()
    url = URL_IN_TEXT.search(text).group(0)
    assert url.replace("&", "&amp;") in message.get_body(("html",)).get_content()
    assert "help@acme.example" in text
    assert_signs_in(url, ada)


def test_email_link_without_a_support_email_has_no_reply_to(client, owner, shop):
    client.force_login(owner)
    client.post(email_url(shop["ada"]))
    assert OutgoingEmail.objects.get().reply_to == ""


@pytest.mark.parametrize("route", [copy_url, email_url])
def test_another_organizations_customer_is_404(client, owner, outsider, shop, route):
    client.force_login(owner)
    assert client.post(route(shop["otto"])).status_code == 404
    # and an outsider reaching for ours
    client.force_login(outsider)
    assert client.post(route(shop["ada"])).status_code == 404
    assert not CustomerSession.objects.exists()
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("route", [copy_url, email_url])
def test_a_deleted_customer_has_no_portal_link(client, owner, shop, route):
    grace = shop["grace"]
    customer_delete(customer=grace)
    client.force_login(owner)
    assert client.post(route(grace)).status_code == 404
    assert not CustomerSession.objects.exists()
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize("route", [copy_url, email_url])
def test_the_links_are_posts_only(client, owner, shop, route):
    client.force_login(owner)
    assert client.get(route(shop["ada"])).status_code == 405
    assert not CustomerSession.objects.exists()

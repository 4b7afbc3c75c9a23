import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.factories import CustomerFactory


def test_signing_in_through_the_login_form_lands_on_the_overview(
    page, live_server, owner, organization
):
    CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")

    page.goto("/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/dashboard/acme/")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page.locator(".account")).to_contain_text("owner")


def test_signing_in_with_a_wrong_password_shows_an_error_and_stays_signed_out(page, owner):
    page.goto("/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/dashboard/acme/customers/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))

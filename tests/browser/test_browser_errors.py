"""The guard every browser test runs under: console errors and uncaught script errors
are collected (and would fail the test), and every page a test opens is screenshotted
and checked for sideways scrolling on a phone."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS_DIR, check_page


def test_console_errors_and_uncaught_script_errors_are_collected(
    owner_page, organization, browser_errors
):
    page = owner_page
    page.goto(reverse("customers:list", args=[organization.slug]))
    expect(page.get_by_role("heading", name="Customers", level=1)).to_be_visible()

    page.evaluate("console.error('something went wrong')")
    page.evaluate("setTimeout(() => { throw new Error('boom'); })")

    errors = browser_errors.take()  # taken, so they do not fail this test
    assert len(errors) == 2, errors
    assert errors[0].startswith("console error: something went wrong")
    assert errors[1].startswith("uncaught page error: Error: boom")


def test_pages_declare_an_icon_and_every_site_answers_for_favicon_ico(
    owner_page, organization, live_server
):
    # Chromium asks for /favicon.ico on pages that declare no icon (the admin, the API
    # docs); a 404 there is a console error like any other.
    page = owner_page
    page.goto(reverse("customers:list", args=[organization.slug]))
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("type", "image/svg+xml")
    assert page.request.get(icon.get_attribute("href")).ok
    assert page.request.get(f"{live_server.url}/favicon.ico").ok
    page.goto(reverse("admin:login"))


def test_every_page_a_test_opens_is_screenshotted_at_both_widths(owner_page, organization, request):
    owner_page.goto(reverse("customers:list", args=[organization.slug]))
    folder = ARTIFACTS_DIR / request.node.name
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["01-dashboard-acme-customers-1440.png", "01-dashboard-acme-customers-390.png"]
    assert owner_page.viewport_size == {"width": 1280, "height": 900}  # given back


def test_a_page_wider_than_a_phone_fails_its_check(owner_page, organization, tmp_path):
    page = owner_page
    page.goto(reverse("customers:list", args=[organization.slug]))
    page.locator("main").evaluate(
        """main => {
            const wide = main.appendChild(document.createElement("div"));
            wide.id = "too-wide";
            wide.style.width = "600px";
            wide.style.height = "1rem";
        }"""
    )
    with pytest.raises(AssertionError, match=r"scrolls sideways .*div#too-wide"):
        check_page(page, tmp_path / "wide")

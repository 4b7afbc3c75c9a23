"""The guard every browser test runs under: console errors and uncaught script errors
are collected (and would fail the test); the favicon's 404 is not an error."""

from django.urls import reverse
from playwright.sync_api import expect


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

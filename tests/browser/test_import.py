"""Customers → Import in a real browser: a merchant uploads a CSV, reads the preview
(counts and a field-by-field diff), applies it and watches the progress bar reach done,
while the import job runs beside the page (each page pictured at both widths by the
conftest's goto, and the upload page and the import page ready and done at 1440 and 390 px
in test-artifacts/)."""

import threading

import pytest
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect

from customers import services as customer_services
from tests.browser.conftest import wait_for_htmx
from tests.imports.conftest import run_all

FILE = (
    "email,external_id,name,metadata.plan\n"
    "ada@example.com,u1,Ada Lovelace,pro\n"
    "bo@example.com,u2,Bo Brown,\n"
    "cy@example.com,u3,Cy Young,team\n"
    "di@example.com,u4,Di Diaz,team\n"
)


def figure_of(page):
    def figure(label):
        metric = page.locator(".import-counts .metric", has_text=label)
        return metric.locator(".figure")

    return figure


def snap(page, artifacts_dir, name):
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=artifacts_dir / f"import-{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def run_jobs_beside_the_page():
    """Run the import job in a thread, as a worker would, while the page polls. The
    in-memory SQLite test database is one connection, which the live server shares with
    the test (Django's LiveServerThread does the same); PostgreSQL gets its own."""
    main = connections["default"]  # this thread's connection, not the proxy
    shared = main if main.vendor == "sqlite" else None
    errors = []
    if shared is not None:
        shared.inc_thread_sharing()

    def work():
        if shared is not None:
            connections["default"] = shared
        try:
            run_all()
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            if shared is None:
                connections["default"].close()
            else:
                shared.dec_thread_sharing()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, errors


@pytest.mark.django_db(transaction=True)
def test_a_merchant_imports_a_file(owner_page, organization, tmp_path, artifacts_dir, settings):
    page = owner_page
    ada = customer_services.customer_create(
        organization=organization, email="ada@example.com", external_id="u1", name="Ada"
    )
    # Batches of two rows: the progress bar has steps to show.
    settings.IMPORT_BATCH_ROWS = 2
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(FILE)

    page.goto(reverse("customers:list", args=[organization.slug]))
    page.get_by_role("link", name="Import (CSV)").click()
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(csv_path)
    page.get_by_label("Don't send webhooks for this import").check()
    snap(page, artifacts_dir, "upload")
    page.get_by_role("button", name="Upload and check").click()

    # The dry run waits for a worker: the page polls its progress.
    progress = page.locator("#import-progress")
    expect(page.get_by_role("heading", name="Checking the file…")).to_be_visible()
    expect(progress).to_be_visible()
    thread, errors = run_jobs_beside_the_page()
    expect(page.get_by_text("To create")).to_be_visible()
    thread.join()
    assert not errors

    figure = figure_of(page)
    expect(figure("To create")).to_have_text("3")
    expect(figure("To update")).to_have_text("1")
    changes = page.locator(".import-changes")
    expect(changes.locator("tbody tr")).to_have_count(4)
    ada_row = changes.locator("tr", has_text="Existing customer")
    expect(ada_row).to_contain_text("name: Ada → Ada Lovelace")
    expect(ada_row.get_by_role("link", name="Existing customer")).to_have_attribute(
        "href", reverse("customers:detail", args=[organization.slug, ada.pk])
    )
    expect(page.get_by_label("Don't send webhooks for this import")).to_be_checked()
    snap(page, artifacts_dir, "ready")

    page.get_by_role("button", name="Apply the import").click()
    wait_for_htmx(page)
    expect(page.get_by_role("heading", name="Applying the import…")).to_be_visible()
    thread, errors = run_jobs_beside_the_page()
    expect(page.get_by_role("heading", name="Import done")).to_be_visible()
    thread.join()
    assert not errors
    expect(progress).to_have_attribute("value", "100")
    expect(figure("Created")).to_have_text("3")
    expect(figure("Updated")).to_have_text("1")
    created = page.locator("section", has=page.get_by_role("heading", name="Created customers"))
    expect(created.get_by_role("link")).to_have_count(3)
    snap(page, artifacts_dir, "done")
    created.get_by_role("link", name="Cy Young").click()
    expect(page.get_by_role("heading", name="Cy Young")).to_be_visible()

from django.urls import reverse
from playwright.sync_api import expect

from customers.models import Customer
from tests.browser.conftest import wait_for_htmx
from tests.factories import CustomerFactory


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.organization.slug, customer.pk])


def test_adding_a_metadata_key_shows_it_in_place_with_its_type(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    expect(panel.locator(".counter")).to_have_text("1 / 50 keys")
    page.evaluate("window.sameDocument = true")

    panel.get_by_label("Key", exact=True).fill("seats")
    panel.get_by_label("Type", exact=True).select_option(label="Integer")
    expect(page.locator("#add-value")).to_have_attribute("type", "number")
    page.locator("#add-value").fill("3")
    expect(page.locator("#add-value-hint")).to_have_text("Will be stored as Integer 3")
    panel.get_by_role("button", name="Add").click()

    row = panel.get_by_role("row").filter(has=page.locator("td.key", has_text="seats"))
    expect(row.locator("td.value")).to_have_text("3")
    expect(row.locator(".type")).to_have_text("Integer")
    expect(panel.locator(".counter")).to_have_text("2 / 50 keys")
    expect(panel.get_by_role("status")).to_have_text("Saved 'seats' as Integer 3.")
    expect(page.locator("#add-key")).to_have_value("")
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"

    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro", "seats": 3}
    assert type(customer.metadata["seats"]) is int


def test_a_metadata_key_longer_than_40_characters_is_refused_next_to_the_field(
    owner_page, organization, browser_errors
):
    page = owner_page
    browser_errors.expect_http_status(422)  # the panel comes back with the error, as 422
    customer = CustomerFactory(organization=organization, metadata={})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    too_long = "k" * 41

    panel.get_by_label("Key", exact=True).fill(too_long)
    page.locator("#add-value").fill("pro")
    panel.get_by_role("button", name="Add").click()

    error = page.locator("p.error#add-key-error")
    expect(error).to_contain_text("41 characters long; keys can be at most 40")
    expect(page.locator("#add-key")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#add-key")).to_have_attribute("aria-describedby", "add-key-error")
    expect(page.locator("#add-key")).to_have_value(too_long)
    expect(page.locator("#add-key")).to_be_focused()
    expect(page.locator("#add-value-error")).to_have_count(0)
    expect(panel.locator(".counter")).to_have_text("0 / 50 keys")
    expect(panel.locator("table.metadata")).to_have_count(0)

    customer.refresh_from_db()
    assert customer.metadata == {}


def test_editing_a_metadata_value_in_place_can_change_its_type(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": "5"})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")

    panel.get_by_role("link", name="Edit seats").click()
    expect(page.locator("#edit-key")).to_have_value("seats")
    expect(page.locator("#edit-value")).to_have_value("5")
    wait_for_htmx(page)
    page.locator("#edit-type").select_option(label="Integer")
    page.locator("#edit-value").fill("7")
    expect(page.locator("#edit-value")).to_have_value("7")
    expect(page.locator("#edit-type")).to_have_value("integer")
    panel.get_by_role("button", name="Save").click()

    row = panel.get_by_role("row").filter(has=page.locator("td.key", has_text="seats"))
    expect(row.locator("td.value")).to_have_text("7")
    expect(row.locator(".type")).to_have_text("Integer")
    expect(page.locator("#edit-key")).to_have_count(0)
    expect(panel.locator(".counter")).to_have_text("2 / 50 keys")
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro", "seats": 7}


def test_removing_a_metadata_key_asks_in_the_page_then_takes_it_out_of_the_panel(
    owner_page, organization
):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": 5})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    panel.get_by_role("link", name="Remove plan").click()
    question = panel.locator("tr.confirming")
    expect(question).to_contain_text("Remove the key plan (Text “pro”)?")
    keep = question.get_by_role("link", name="Keep it")
    expect(keep).to_be_focused()
    page.keyboard.press("Escape")  # changes nothing
    expect(panel.locator("tr.confirming")).to_have_count(0)
    expect(panel.locator("td.key")).to_have_text(["plan", "seats"])

    panel.get_by_role("link", name="Remove plan").click()
    wait_for_htmx(page)
    panel.get_by_role("button", name="Remove plan").click()
    expect(panel.locator("td.key")).to_have_text(["seats"])
    expect(panel.locator(".counter")).to_have_text("1 / 50 keys")
    expect(panel.get_by_role("status")).to_have_text("Removed 'plan'.")
    assert dialogs == [], "the browser's confirm() was used"
    customer.refresh_from_db()
    assert customer.metadata == {"seats": 5}


def test_a_yes_no_value_is_picked_from_a_yes_no_menu(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    expect(page.locator("#add-value-boolean")).to_be_hidden()

    panel.get_by_label("Key", exact=True).fill("beta")
    page.locator("#add-type").select_option(label="Yes/No")
    expect(page.locator("#add-value")).to_be_hidden()
    menu = page.locator("#add-value-boolean")
    expect(menu).to_be_visible()
    expect(menu).to_have_accessible_name("Value")
    menu.select_option(label="No")
    expect(page.locator("#add-value-hint")).to_have_text("Will be stored as Yes/No No")
    panel.get_by_role("button", name="Add").click()

    row = panel.get_by_role("row").filter(has=page.locator("td.key", has_text="beta"))
    expect(row.locator("td.value")).to_have_text("No")
    expect(row.locator(".type")).to_have_text("Yes/No")
    customer.refresh_from_db()
    assert customer.metadata == {"beta": False}


def test_the_editor_shows_what_a_number_will_be_stored_as_before_saving(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={})
    page.goto(detail_url(customer))
    page.locator("#add-type").select_option(label="Number")
    page.locator("#add-value").fill("1e3")
    hint = page.locator("#add-value-hint")
    expect(hint).to_have_text("Will be stored as Number 1000.0")
    # ... and the server's own preview, which answers for exactly this value, agrees.
    expect(hint).to_have_attribute("data-hint-for", "float:1e3")
    expect(hint).to_have_text("Will be stored as Number 1000.0")
    customer.refresh_from_db()
    assert customer.metadata == {}  # nothing saved by previewing


def test_escape_cancels_an_inline_edit(owner_page, organization):
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    panel.get_by_role("link", name="Edit plan").click()
    wait_for_htmx(page)
    edit_value = page.locator("#edit-value")
    edit_value.fill("changed")
    edit_value.press("Escape")
    expect(page.locator("#edit-key")).to_have_count(0)
    expect(panel.locator("td.value")).to_have_text(["pro"])
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro"}


def test_values_wrap_between_words_and_only_long_tokens_break_anywhere(
    new_page, sign_in, owner, organization, artifacts_dir
):
    for width, viewport in (("desktop", (1440, 900)), ("phone", (390, 844))):
        page = new_page(viewport={"width": viewport[0], "height": viewport[1]})
        sign_in(page, owner)
        customer = CustomerFactory(
            organization=organization,
            metadata={
                "note": "Prefers invoices by post, quarterly, with the purchase order number",
                "token": "sk_live_" + "x" * 60,
                "seats": 12,
                "beta": True,
                "discount": 0.15,
            },
        )
        page.goto(detail_url(customer))
        rows = page.locator("#metadata-panel tbody tr")
        note = rows.filter(has=page.locator("td.key", has_text="note")).locator("td.value")
        token = rows.filter(has=page.locator("td.key", has_text="token")).locator("td.value")
        wrap_of = "cell => getComputedStyle(cell).overflowWrap"
        assert note.evaluate(wrap_of) != "anywhere" and token.evaluate(wrap_of) == "anywhere"
        css = page.evaluate(
            "[...document.styleSheets].flatMap(s => [...s.cssRules]).map(r => r.cssText).join()"
        )
        assert "break-all" not in css
        # No word of the note is split: each word's letters share one line box.
        split = note.evaluate(
            """cell => {
                const text = cell.firstChild, words = text.data.split(" ");
                let at = 0, split = [];
                for (const word of words) {
                    const range = document.createRange();
                    range.setStart(text, at); range.setEnd(text, at + word.length);
                    if (range.getClientRects().length > 1) split.push(word);
                    at += word.length + 1;
                }
                return split;
            }"""
        )
        assert split == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=artifacts_dir / f"metadata-panel-{width}.png", full_page=True)
        page.locator("#metadata-panel").get_by_role("link", name="Edit seats").click()
        wait_for_htmx(page)
        page.locator("#metadata-panel").screenshot(
            path=artifacts_dir / f"metadata-edit-{width}.png"
        )
        page.keyboard.press("Escape")
        wait_for_htmx(page)
        page.locator("#metadata-panel").get_by_role("link", name="Remove token").click()
        wait_for_htmx(page)
        wrap = page.locator("#metadata-panel .table-wrap")
        assert wrap.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), width
        page.locator("#metadata-panel").screenshot(
            path=artifacts_dir / f"metadata-remove-{width}.png"
        )


def test_new_customer_metadata_rows_offer_yes_no_and_numbers(owner_page, organization):
    page = owner_page
    page.goto(reverse("customers:create", args=[organization.slug]))
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    first, second = page.locator("[data-metadata-row]").all()[:2]
    first.get_by_label("Key").fill("beta")
    first.get_by_label("Type").select_option(label="Yes/No")
    expect(first.locator("input.value-text")).to_be_hidden()
    first.locator(".value-boolean select").select_option(label="Yes")
    expect(first.locator("[data-value-hint]")).to_have_text("Will be stored as Yes/No Yes")
    second.get_by_label("Key").fill("seats")
    second.get_by_label("Type").select_option(label="Integer")
    expect(second.locator("input.value-text")).to_have_attribute("type", "number")
    second.locator("input.value-text").fill("12")
    expect(second.locator("[data-value-hint]")).to_have_text("Will be stored as Integer 12")
    page.get_by_role("button", name="Create customer").click()

    expect(page.get_by_role("status")).to_contain_text("created")
    customer = Customer.objects.get(email="ada@example.com")
    assert customer.metadata == {"beta": True, "seats": 12}


def test_without_javascript_yes_no_and_remove_still_work(
    new_page, sign_in, owner, organization, artifacts_dir
):
    page = new_page(viewport={"width": 1440, "height": 900}, java_script_enabled=False)
    sign_in(page, owner)
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    page.goto(detail_url(customer))

    # The Yes/No menu takes the text box's place by CSS alone.
    page.locator("#add-key").fill("beta")
    page.locator("#add-type").select_option(label="Yes/No")
    expect(page.locator("#add-value")).to_be_hidden()
    page.locator("#add-value-boolean").select_option(label="No")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_have_text("Saved 'beta' as Yes/No No.")

    # Remove opens the same question as a page, then removes.
    page.get_by_role("link", name="Remove plan").click()
    expect(page.locator("tr.confirming")).to_contain_text("Remove the key plan")
    page.screenshot(path=artifacts_dir / "metadata-remove-without-js.png", full_page=True)
    page.get_by_role("button", name="Remove plan").click()
    expect(page.get_by_role("status")).to_have_text("Removed 'plan'.")
    customer.refresh_from_db()
    assert customer.metadata == {"beta": False}


def test_a_damaged_edit_form_says_nothing_was_saved_in_the_panel(
    owner_page, organization, browser_errors
):
    """A 400 for a form whose concurrency token was tampered with is shown in place."""
    from customers.forms import DAMAGED_FORM_MESSAGE

    browser_errors.expect_http_status(400)
    page = owner_page
    customer = CustomerFactory(organization=organization, metadata={"seats": 5})
    page.goto(detail_url(customer))
    panel = page.locator("#metadata-panel")
    panel.get_by_role("link", name="Edit seats").click()
    expect(page.locator("#edit-value")).to_have_value("5")
    wait_for_htmx(page)
    page.evaluate("document.querySelector('[name=expected]').value = 'not json'")
    page.locator("#edit-value").fill("9")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_text(DAMAGED_FORM_MESSAGE)).to_be_visible()
    customer.refresh_from_db()
    assert customer.metadata == {"seats": 5}


def test_a_request_the_server_refuses_says_why_in_the_page(
    owner_page, organization, browser_errors
):
    browser_errors.expect_http_status(400)
    page = owner_page
    CustomerFactory(organization=organization)
    page.goto(reverse("customers:list", args=[organization.slug]))
    page.evaluate(
        "htmx.ajax('GET', location.pathname + '?sorting=nonsense', {target: 'main', swap: 'none'})"
    )
    alert = page.locator("#request-error")
    expect(alert).to_be_visible()
    expect(alert).not_to_have_text("")

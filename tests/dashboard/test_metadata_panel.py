import json
import re

import pytest
from django.urls import reverse

from customers import services
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": 3})


def url(name, customer):
    return reverse(f"customers:{name}", args=[customer.organization.slug, customer.pk])


def stored(customer):
    customer.refresh_from_db()
    return customer.metadata


def test_adding_a_key_over_htmx_returns_the_panel_with_the_typed_value(merchant, customer):
    response = merchant.post(
        url("metadata", customer), {"key": "beta", "type": "boolean", "value": "true"}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.text.strip().startswith('<section id="metadata-panel"')
    assert "3 / 50 keys" in response.text
    assert "Saved &#x27;beta&#x27; as Yes/No Yes." in response.text
    assert stored(customer) == {"plan": "pro", "seats": 3, "beta": True}


def test_adding_without_javascript_redirects_back_to_the_page(merchant, customer):
    response = merchant.post(
        url("metadata", customer), {"key": "n", "type": "float", "value": "2.5"}
    )
    assert response.status_code == 302
    assert response.url == url("detail", customer)
    assert stored(customer)["n"] == 2.5


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"key": "k" * 41, "type": "string", "value": "v"}, "key", "keys can be at most 40"),
        ({"key": "", "type": "string", "value": "v"}, "key", "must not be empty"),
        ({"key": "bio", "type": "string", "value": "x" * 501}, "value", "at most 500"),
        ({"key": "bio", "type": "string", "value": ""}, "value", "must not be an empty string"),
        ({"key": "n", "type": "integer", "value": "4.5"}, "value", "Enter a whole number"),
        ({"key": "plan", "type": "string", "value": "team"}, "key", "already exists"),
    ],
)
def test_a_bad_entry_is_a_422_with_the_error_beside_its_field(
    merchant, customer, data, field, message
):
    response = merchant.post(url("metadata", customer), data, headers=HTMX)
    assert response.status_code == 422
    assert f'id="add-{field}-error"' in response.text
    assert message in response.text
    assert stored(customer) == {"plan": "pro", "seats": 3}


def test_a_51st_key_is_refused(merchant, organization):
    full = CustomerFactory(organization=organization, metadata={f"k{i}": i for i in range(50)})
    response = merchant.post(url("metadata", full), {"key": "x", "type": "string", "value": "y"})
    assert response.status_code == 422
    assert "at most 50 keys" in response.text


def test_the_edit_form_opens_in_place_and_saves_a_rename_with_a_new_type(merchant, customer):
    form = merchant.get(url("metadata_edit", customer), {"key": "seats"}, headers=HTMX)
    assert 'name="original_key" value="seats"' in form.text
    response = merchant.post(
        url("metadata_edit", customer),
        {
            "original_key": "seats",
            "expected": "3",
            "key": "licences",
            "type": "string",
            "value": "3",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert stored(customer) == {"plan": "pro", "licences": "3"}


def test_a_stale_edit_is_refused_with_the_current_value(merchant, customer):
    services.customer_set_metadata_key(
        customer=customer, key="plan", value="team", expected_value="pro"
    )
    response = merchant.post(
        url("metadata_edit", customer),
        {
            "original_key": "plan",
            "expected": json.dumps("pro"),
            "key": "plan",
            "type": "string",
            "value": "gold",
        },
        headers=HTMX,
    )
    assert response.status_code == 409
    assert "it is now &#x27;team&#x27;" in response.text
    assert stored(customer)["plan"] == "team"


def test_removing_a_key(merchant, customer):
    response = merchant.post(
        url("metadata_remove", customer), {"key": "plan", "expected": '"pro"'}, headers=HTMX
    )
    assert response.status_code == 200
    assert "1 / 50 keys" in response.text
    assert stored(customer) == {"seats": 3}


def test_removing_a_key_someone_changed_is_refused(merchant, customer):
    services.customer_set_metadata_key(customer=customer, key="seats", value=5, expected_value=3)
    response = merchant.post(
        url("metadata_remove", customer), {"key": "seats", "expected": "3"}, headers=HTMX
    )
    assert response.status_code == 409
    assert stored(customer) == {"plan": "pro", "seats": 5}


def test_editing_a_key_that_is_gone_says_so(merchant, customer):
    response = merchant.get(url("metadata_edit", customer), {"key": "nope"}, headers=HTMX)
    assert response.status_code == 409
    assert "no longer exists" in response.text


def test_without_javascript_the_edit_link_renders_the_whole_page(merchant, customer):
    response = merchant.get(url("metadata_edit", customer), {"key": "plan"})
    assert response.status_code == 200
    assert "<html" in response.text
    assert 'name="original_key" value="plan"' in response.text


# --- what the editor saw: missing or damaged, it is refused, never skipped ----------


@pytest.mark.parametrize("expected", [None, "", "{not json", '"pro'])
def test_removing_without_a_valid_expected_value_is_refused(merchant, customer, expected):
    data = {"key": "plan"}
    if expected is not None:
        data["expected"] = expected
    response = merchant.post(url("metadata_remove", customer), data, headers=HTMX)
    assert response.status_code == 400
    assert "Reload the page and make your change again" in response.text
    assert stored(customer) == {"plan": "pro", "seats": 3}


@pytest.mark.parametrize("expected", [None, "", "{not json"])
def test_editing_without_a_valid_expected_value_is_refused(merchant, customer, expected):
    data = {"original_key": "plan", "key": "plan", "type": "string", "value": "gold"}
    if expected is not None:
        data["expected"] = expected
    response = merchant.post(url("metadata_edit", customer), data, headers=HTMX)
    assert response.status_code == 400
    assert "Reload the page and make your change again" in response.text
    assert stored(customer) == {"plan": "pro", "seats": 3}


def test_the_add_form_cannot_be_turned_into_an_unchecked_edit(merchant, customer):
    response = merchant.post(
        url("metadata", customer),
        {"original_key": "plan", "key": "tier", "type": "string", "value": "gold"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert stored(customer) == {"plan": "pro", "seats": 3, "tier": "gold"}


# --- the editor: one vocabulary, yes/no, numbers, a preview, removing in the page -------


def test_type_badges_use_the_words_of_the_type_menu(merchant, organization):
    customer = CustomerFactory(
        organization=organization, metadata={"plan": "pro", "seats": 3, "score": 4.5, "beta": True}
    )
    html = merchant.get(reverse("customers:detail", args=[organization.slug, customer.pk])).text
    badges = re.findall(r'<span class="type type-\w+">([^<]*)</span>', html)
    # (PostgreSQL's jsonb keeps keys in its own order.)
    assert sorted(badges) == ["Integer", "Number", "Text", "Yes/No"]
    for word in ("string", "float", "boolean"):
        assert f">{word}<" not in html
    # A yes/no value reads as the menu says it.
    assert re.search(r'<td class="value[^"]*">Yes</td>', html)


@pytest.mark.parametrize(
    ("data", "stored_value"),
    [
        ({"value_boolean": "true"}, True),
        ({"value_boolean": "false"}, False),
        ({"value": "yes"}, True),
        ({"value": "No"}, False),
    ],
)
def test_a_yes_no_value_is_chosen_or_typed_as_yes_or_no(merchant, customer, data, stored_value):
    response = merchant.post(
        url("metadata", customer), {"key": "beta", "type": "boolean", **data}, headers=HTMX
    )
    assert response.status_code == 200
    assert stored(customer)["beta"] is stored_value


def test_the_preview_says_what_a_value_will_be_stored_as_and_saves_nothing(merchant, customer):
    cases = [
        ("float", "1e3", "Will be stored as Number 1000.0"),
        ("integer", " 42 ", "Will be stored as Integer 42"),
        ("string", "1e3", "Will be stored as Text “1e3”"),
        ("boolean", "yes", "Will be stored as Yes/No Yes"),
        ("integer", "4.5", "Enter a whole number, such as 42."),
    ]
    for kind, value, hint in cases:
        response = merchant.post(
            url("metadata", customer),
            {"preview": "1", "key": "", "type": kind, "value": value},
            headers=HTMX,
        )
        assert response.status_code == 200
        assert response.text.strip().startswith('<p class="hint')
        assert hint in response.text
    assert stored(customer) == {"plan": "pro", "seats": 3}


def test_saving_says_what_was_stored(merchant, customer):
    response = merchant.post(
        url("metadata", customer), {"key": "n", "type": "float", "value": "1e3"}, headers=HTMX
    )
    assert "Saved &#x27;n&#x27; as Number 1000.0." in response.text
    assert stored(customer)["n"] == 1000.0


def test_numbers_are_edited_in_number_inputs(merchant, customer):
    form = merchant.get(url("metadata_edit", customer), {"key": "seats"}, headers=HTMX).text
    assert re.search(r'<input id="edit-value" name="value" type="number" step="1"', form)
    plan = merchant.get(url("metadata_edit", customer), {"key": "plan"}, headers=HTMX).text
    assert re.search(r'<input id="edit-value" name="value" type="text"', plan)


def test_remove_asks_in_the_page_then_removes_with_what_was_seen(merchant, customer):
    detail = merchant.get(
        reverse("customers:detail", args=[customer.organization.slug, customer.pk])
    )
    assert "hx-confirm" not in detail.text
    assert f'href="{url("metadata_remove", customer)}?key=plan"' in detail.text

    ask = merchant.get(url("metadata_remove", customer), {"key": "plan"}, headers=HTMX)
    assert ask.status_code == 200
    assert ask.text.strip().startswith('<section id="metadata-panel"')
    assert "Remove the key" in ask.text
    assert 'name="expected" value="&quot;pro&quot;"' in ask.text
    assert stored(customer) == {"plan": "pro", "seats": 3}  # asking removes nothing

    done = merchant.post(
        url("metadata_remove", customer), {"key": "plan", "expected": '"pro"'}, headers=HTMX
    )
    assert done.status_code == 200
    assert stored(customer) == {"seats": 3}


def test_without_javascript_remove_asks_on_the_whole_page(merchant, customer):
    response = merchant.get(url("metadata_remove", customer), {"key": "plan"})
    assert response.status_code == 200
    assert "<html" in response.text
    assert "Remove the key" in response.text


def test_asking_to_remove_a_key_that_is_gone_says_so(merchant, customer):
    response = merchant.get(url("metadata_remove", customer), {"key": "nope"}, headers=HTMX)
    assert response.status_code == 409
    assert "no longer exists" in response.text

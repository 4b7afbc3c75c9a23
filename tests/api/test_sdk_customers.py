"""Customers through the official polar-sdk client, as a merchant's backend drives them.

Every test talks HTTP to a live server, so the data the factories write must be committed:
hence the transactional database access.
"""

import contextlib
import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from polar.base import PolarClientError
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound

from customers.models import Customer
from orders.models import Subscription
from tests.factories import CustomerFactory, OrderFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOCKED = "Customer external ID cannot be updated."
MISSING_ID = "0190d1b0-0000-7000-8000-000000000000"
CSV_COLUMNS = [
    "id",
    "external_id",
    "created_at",
    "email",
    "name",
    "tax_id",
    "billing_name",
    "billing_address_line1",
    "billing_address_line2",
    "billing_address_postal_code",
    "billing_address_city",
    "billing_address_state",
    "billing_address_country",
    "metadata",
]


# --- Helpers ----------------------------------------------------------------------------


@pytest.fixture
def customer(organization):
    """make `customer(**fields)`: a customer of our organization."""

    def make(**fields):
        return CustomerFactory(organization=organization, **fields)

    return make


@pytest.fixture
def sdk_with(live_server):
    """`sdk_with(token)`: a polar-sdk client with any token (closed after the test)."""
    with contextlib.ExitStack() as stack:
        yield lambda token: stack.enter_context(Polar(token, base_url=live_server.url, timeout=30))


def ids(page) -> list[str]:
    return [item.id for item in page.items]


def emails(page) -> list[str]:
    return [item.email for item in page.items]


def errors_of(exc_info) -> list[tuple[list, str]]:
    """(loc, msg) of each entry of a 422's detail."""
    return [(list(d.loc), d.msg) for d in exc_info.value.error.detail]


def body_of(exc_info) -> dict:
    """The JSON body of an error the SDK has no typed class for (401, 403)."""
    return json.loads(exc_info.value.error)


# --- List: filters ----------------------------------------------------------------------


def test_email_filter_is_exact_but_ignores_case(sdk, customer):
    ada = customer(email="Ada@Example.com")
    customer(email="ada@example.org")
    customer(email="grace@example.com")

    assert ids(sdk.customers.list(email="Ada@Example.com")) == [str(ada.id)]
    assert ids(sdk.customers.list(email="ADA@EXAMPLE.COM")) == [str(ada.id)]
    assert ids(sdk.customers.list(email="ada@example")) == []


def test_query_matches_name_email_or_external_id_ignoring_case(sdk, customer):
    by_name = customer(name="Lovelace Ada", email="one@example.com")
    by_email = customer(name="Someone", email="ada.l@example.com")
    by_external_id = customer(name="Other", email="two@example.com", external_id="user_ADA_1")
    customer(name="Grace Hopper", email="grace@example.com", external_id="user_grace")

    found = sdk.customers.list(query="ada", limit=100)

    assert set(ids(found)) == {str(by_name.id), str(by_email.id), str(by_external_id.id)}
    assert found.pagination.total_count == 3


def test_active_filter_counts_trialing_active_and_past_due_subscriptions(sdk, customer):
    active = {}
    for status in ("active", "trialing", "past_due"):
        active[status] = customer()
        SubscriptionFactory(customer=active[status], status=status)
    inactive = {}
    for status in ("canceled", "incomplete", "unpaid"):
        inactive[status] = customer()
        SubscriptionFactory(customer=inactive[status], status=status)
    inactive["none"] = customer()

    assert set(ids(sdk.customers.list(active=True))) == {str(c.id) for c in active.values()}
    assert set(ids(sdk.customers.list(active=False))) == {str(c.id) for c in inactive.values()}
    assert sdk.customers.list().pagination.total_count == 7


def test_metadata_values_of_one_key_are_ored(sdk, customer):
    pro = customer(metadata={"plan": "pro"})
    team = customer(metadata={"plan": "team"})
    customer(metadata={"plan": "free"})
    customer(metadata={})

    found = sdk.customers.list(metadata={"plan": ["pro", "team"]})

    assert set(ids(found)) == {str(pro.id), str(team.id)}


def test_metadata_filters_on_different_keys_are_anded(sdk, customer):
    pro_eu = customer(metadata={"plan": "pro", "region": "eu"})
    customer(metadata={"plan": "pro", "region": "us"})
    customer(metadata={"plan": "free", "region": "eu"})

    found = sdk.customers.list(metadata={"plan": "pro", "region": "eu"})

    assert ids(found) == [str(pro_eu.id)]


def test_metadata_filter_on_a_key_with_dots_spaces_and_brackets(sdk, customer):
    key = "tier.v2 [beta]"
    pro = customer(metadata={key: "pro"})
    customer(metadata={key: "free"})
    customer(metadata={"tier.v2": "pro"})

    assert ids(sdk.customers.list(metadata={key: "pro"})) == [str(pro.id)]


def test_metadata_filter_matches_an_integer_value(sdk, customer):
    three = customer(metadata={"seats": 3})
    customer(metadata={"seats": 4})
    customer(metadata={"seats": 30})

    assert ids(sdk.customers.list(metadata={"seats": 3})) == [str(three.id)]


def test_metadata_filter_matches_a_boolean_value(sdk, customer):
    beta = customer(metadata={"beta": True})
    customer(metadata={"beta": False})
    customer(metadata={"other": True})

    assert ids(sdk.customers.list(metadata={"beta": True})) == [str(beta.id)]


def test_metadata_filter_on_a_boolean_does_not_match_the_number_one(sdk, customer):
    """True and 1 are different values: the services treat the type as part of a value."""
    beta = customer(metadata={"beta": True})
    one = customer(metadata={"beta": 1})

    assert ids(sdk.customers.list(metadata={"beta": True})) == [str(beta.id)]
    assert ids(sdk.customers.list(metadata={"beta": 1})) == [str(one.id)]


@pytest.mark.parametrize("value", ["Infinity", "nan", "inf"])
def test_metadata_filter_on_text_python_reads_as_infinity_or_nan(sdk, customer, value):
    """A plan called "Infinity" or a nickname "Nan" is plain text to the merchant."""
    match = customer(metadata={"tier": value})
    customer(metadata={"tier": "pro"})

    assert ids(sdk.customers.list(metadata={"tier": value})) == [str(match.id)]


def test_metadata_filter_does_not_read_text_with_underscores_as_a_number(sdk, customer):
    """ "1_000" is a number only to Python: text from a URL should not match 1000."""
    text = customer(metadata={"code": "1_000"})
    customer(metadata={"code": 1000})

    assert ids(sdk.customers.list(metadata={"code": "1_000"})) == [str(text.id)]


# --- List: sorting and pages -------------------------------------------------------------


@pytest.fixture
def three_customers(customer):
    """Created in the order b, c, a (oldest first), so no sort key agrees with another."""
    now = timezone.now()
    return {
        "b": customer(email="b@example.com", name="Bea", created_at=now - timedelta(hours=3)),
        "c": customer(email="c@example.com", name="Al", created_at=now - timedelta(hours=2)),
        "a": customer(email="a@example.com", name="Cy", created_at=now - timedelta(hours=1)),
    }


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        (None, ["a", "c", "b"]),  # -created_at by default
        (["created_at"], ["b", "c", "a"]),
        (["-created_at"], ["a", "c", "b"]),
        (["email"], ["a", "b", "c"]),
        (["-email"], ["c", "b", "a"]),
        (["name"], ["c", "b", "a"]),
        (["-name"], ["a", "b", "c"]),
    ],
)
def test_sorting(sdk, three_customers, sorting, expected):
    kwargs = {} if sorting is None else {"sorting": sorting}

    found = sdk.customers.list(**kwargs)

    assert emails(found) == [f"{letter}@example.com" for letter in expected]


def test_a_page_holds_10_customers_by_default(sdk, customer):
    for _ in range(12):
        customer()

    first = sdk.customers.list()
    second = sdk.customers.list(page=2)

    assert len(first.items) == 10
    assert len(second.items) == 2
    assert first.pagination.total_count == 12
    assert first.pagination.max_page == 2
    assert not set(ids(first)) & set(ids(second))


def test_limit_is_capped_at_100(sdk, organization):
    CustomerFactory.create_batch(205, organization=organization)

    page = sdk.customers.list(limit=500)

    assert len(page.items) == 100
    assert page.pagination.total_count == 205
    assert page.pagination.max_page == 3  # ceil(205 / 100), not ceil(205 / 500)


def test_iter_list_yields_every_customer_exactly_once(sdk, organization):
    created = CustomerFactory.create_batch(23, organization=organization)

    walked = [c.id for c in sdk.customers.iter_list(limit=5)]

    assert len(walked) == 23
    assert set(walked) == {str(c.id) for c in created}


def test_iter_list_sorted_by_a_shared_value_still_yields_each_customer_once(sdk, organization):
    # Every customer has the same name, so only the tie-breaker keeps pages stable.
    created = CustomerFactory.create_batch(13, organization=organization, name="Same")

    walked = [c.id for c in sdk.customers.iter_list(limit=4, sorting=["name"])]

    assert sorted(walked) == sorted(str(c.id) for c in created)


# --- Create and get ---------------------------------------------------------------------

EVERY_METADATA_TYPE = {
    "plan": "pro",
    "seats": 3,
    "zero": 0,
    "ratio": 0.25,
    "whole_float": 2.0,
    "beta": True,
    "legacy": False,
}


def test_create_returns_the_customer_with_every_field(sdk, organization):
    created = sdk.customers.create(
        email="ada@example.com",
        name="Ada Lovelace",
        external_id="user_1",
        metadata=EVERY_METADATA_TYPE,
        billing_address={
            "line1": "12 Rue de Rivoli",
            "postal_code": "75001",
            "city": "Paris",
            "country": "FR",
        },
        tax_id="FR40303265045",
        locale="fr",
    )

    assert created.email == "ada@example.com"
    assert created.name == "Ada Lovelace"
    assert created.external_id == "user_1"
    assert created.organization_id == str(organization.id)
    assert created.billing_address.line1 == "12 Rue de Rivoli"
    assert created.billing_address.line2 is None
    assert created.billing_address.postal_code == "75001"
    assert created.billing_address.city == "Paris"
    assert created.billing_address.country == "FR"
    assert created.tax_id[0] == "FR40303265045"
    assert created.locale == "fr"
    assert created.deleted_at is None
    stored = Customer.objects.get(pk=created.id)
    assert stored.organization == organization
    assert stored.billing_address_city == "Paris"


@pytest.mark.parametrize("read", ["create", "get", "list", "db"])
def test_metadata_types_survive_the_round_trip(sdk, read):
    created = sdk.customers.create(email="ada@example.com", metadata=EVERY_METADATA_TYPE)
    metadata = {
        "create": lambda: created.metadata,
        "get": lambda: sdk.customers.get(created.id).metadata,
        "list": lambda: sdk.customers.list().items[0].metadata,
        "db": lambda: Customer.objects.get(pk=created.id).metadata,
    }[read]()

    assert metadata == EVERY_METADATA_TYPE
    assert {k: type(v) for k, v in metadata.items()} == {
        "plan": str,
        "seats": int,
        "zero": int,
        "ratio": float,
        "whole_float": float,
        "beta": bool,
        "legacy": bool,
    }


def test_get_returns_the_stored_customer(sdk, customer):
    ada = customer(
        email="ada@example.com",
        name="Ada",
        external_id="user_1",
        metadata={"plan": "pro"},
        billing_address_country="GB",
        billing_address_city="London",
    )

    got = sdk.customers.get(str(ada.id))

    assert got.id == str(ada.id)
    assert (got.email, got.name, got.external_id) == ("ada@example.com", "Ada", "user_1")
    assert got.metadata == {"plan": "pro"}
    assert (got.billing_address.country, got.billing_address.city) == ("GB", "London")
    assert got.type == "individual"


def test_create_without_optional_fields(sdk):
    created = sdk.customers.create(email="plain@example.com")

    assert created.name is None
    assert created.external_id is None
    assert created.metadata == {}
    assert created.billing_address is None
    assert created.tax_id is None


# --- Create: rules ----------------------------------------------------------------------


def test_a_duplicate_email_in_another_case_is_refused(sdk, customer):
    customer(email="ada@example.com")

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.create(email="ADA@example.COM")

    assert exc_info.value.status_code == 422
    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "email"]]
    assert Customer.objects.count() == 1


def test_a_duplicate_external_id_is_refused(sdk, customer):
    customer(email="ada@example.com", external_id="user_1")

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.create(email="grace@example.com", external_id="user_1")

    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "external_id"]]
    assert Customer.objects.count() == 1


def test_updating_to_a_taken_email_is_refused(sdk, customer):
    customer(email="ada@example.com")
    grace = customer(email="grace@example.com")

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.update(str(grace.id), email="Ada@Example.com")

    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "email"]]
    grace.refresh_from_db()
    assert grace.email == "grace@example.com"


@pytest.mark.parametrize("email", ["not-an-email", ""])
def test_an_invalid_email_is_refused(sdk, email):
    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.create(email=email)

    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "email"]]
    assert not Customer.objects.exists()


def _fifty_one_keys():
    return {f"k{i}": i for i in range(51)}


@pytest.mark.parametrize(
    ("metadata", "loc", "msg_part"),
    [
        (_fifty_one_keys(), ["body", "metadata"], "at most 50 keys; it has 51"),
        ({"k" * 41: "v"}, ["body", "metadata", "k" * 41], repr("k" * 41)),
        ({"long": "v" * 501}, ["body", "metadata", "long"], "'long' is 501 characters"),
        ({"empty": ""}, ["body", "metadata", "empty"], "'empty' must not be an empty string"),
        ({"nested": {"a": 1}}, ["body", "metadata", "nested"], "'nested' is a nested object"),
        ({"tags": ["a", "b"]}, ["body", "metadata", "tags"], "'tags' is a list"),
        ({"gone": None}, ["body", "metadata", "gone"], "'gone' is null"),
    ],
    ids=["51-keys", "41-char-key", "501-char-value", "empty-string", "nested", "list", "null"],
)
@pytest.mark.parametrize("operation", ["create", "update"])
def test_invalid_metadata_is_refused_at_its_key(sdk, customer, operation, metadata, loc, msg_part):
    existing = customer(email="ada@example.com", metadata={"plan": "pro"})

    with pytest.raises(HTTPValidationError) as exc_info:
        if operation == "create":
            sdk.customers.create(email="new@example.com", metadata=metadata)
        else:
            sdk.customers.update(str(existing.id), metadata=metadata)

    [(error_loc, msg)] = errors_of(exc_info)
    assert error_loc == loc
    assert msg_part in msg
    assert list(Customer.objects.values_list("email", "metadata")) == [
        ("ada@example.com", {"plan": "pro"})
    ]


def test_the_largest_valid_metadata_is_accepted(sdk):
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}

    created = sdk.customers.create(email="big@example.com", metadata=metadata)

    assert created.metadata == metadata


# --- Update -----------------------------------------------------------------------------


def test_update_changes_only_the_fields_sent(sdk, customer):
    ada = customer(
        email="ada@example.com",
        name="Ada",
        external_id="user_1",
        metadata={"plan": "pro"},
        billing_address_country="GB",
        billing_address_city="London",
        tax_id="GB123",
        locale="en",
    )

    updated = sdk.customers.update(str(ada.id), name="Ada Lovelace")

    assert updated.name == "Ada Lovelace"
    assert updated.email == "ada@example.com"
    assert updated.external_id == "user_1"
    assert updated.metadata == {"plan": "pro"}
    assert (updated.billing_address.country, updated.billing_address.city) == ("GB", "London")
    assert updated.tax_id[0] == "GB123"
    assert updated.locale == "en"
    ada.refresh_from_db()
    assert (ada.name, ada.email, ada.metadata) == (
        "Ada Lovelace",
        "ada@example.com",
        {"plan": "pro"},
    )


def test_update_replaces_the_whole_metadata_object(sdk, customer):
    ada = customer(metadata={"plan": "pro", "seats": 3})

    updated = sdk.customers.update(str(ada.id), metadata={"region": "eu"})

    assert updated.metadata == {"region": "eu"}
    ada.refresh_from_db()
    assert ada.metadata == {"region": "eu"}


def test_update_changes_email_and_billing_address(sdk, customer):
    ada = customer(email="ada@example.com", billing_address_country="GB")

    updated = sdk.customers.update(
        str(ada.id),
        email="ada@lovelace.dev",
        billing_address={"line1": "1 Main St", "city": "Boston", "state": "MA", "country": "US"},
    )

    assert updated.email == "ada@lovelace.dev"
    assert updated.billing_address.line1 == "1 Main St"
    assert updated.billing_address.state == "MA"
    assert updated.billing_address.country == "US"
    assert sdk.customers.get(str(ada.id)).email == "ada@lovelace.dev"


def test_an_external_id_can_be_set_while_empty(sdk, customer):
    ada = customer(external_id=None)

    updated = sdk.customers.update(str(ada.id), external_id="user_1")

    assert updated.external_id == "user_1"
    assert sdk.customers.get_external("user_1").id == str(ada.id)


def test_sending_the_same_external_id_again_is_a_no_op(sdk, customer):
    ada = customer(external_id="user_1", name="Ada")

    updated = sdk.customers.update(str(ada.id), external_id="user_1", name="Ada L")

    assert updated.external_id == "user_1"
    assert updated.name == "Ada L"


@pytest.mark.parametrize("new_value", ["user_2", None], ids=["changed", "cleared"])
def test_a_set_external_id_cannot_change(sdk, customer, new_value):
    ada = customer(external_id="user_1", name="Ada")

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.update(str(ada.id), external_id=new_value, name="Renamed")

    assert errors_of(exc_info) == [(["body", "external_id"], LOCKED)]
    ada.refresh_from_db()
    assert (ada.external_id, ada.name) == ("user_1", "Ada")


def test_setting_an_external_id_taken_by_another_customer_is_refused(sdk, customer):
    customer(external_id="user_1")
    grace = customer(external_id=None)

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.update(str(grace.id), external_id="user_1")

    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "external_id"]]
    grace.refresh_from_db()
    assert grace.external_id is None


# --- Delete -----------------------------------------------------------------------------


def test_a_deleted_customer_disappears_from_get_and_list(sdk, customer):
    ada = customer(email="ada@example.com")
    grace = customer(email="grace@example.com")

    assert sdk.customers.delete(str(ada.id)) is None

    with pytest.raises(ResourceNotFound):
        sdk.customers.get(str(ada.id))
    assert ids(sdk.customers.list()) == [str(grace.id)]
    assert ids(sdk.customers.list(email="ada@example.com")) == []
    assert Customer.objects.get(pk=ada.id).deleted_at is not None


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk, c: sdk.customers.get(str(c.id)),
        lambda sdk, c: sdk.customers.update(str(c.id), name="Back"),
        lambda sdk, c: sdk.customers.delete(str(c.id)),
        lambda sdk, c: sdk.customers.get_state(str(c.id)),
    ],
    ids=["get", "update", "delete-again", "state"],
)
def test_a_deleted_customer_is_not_found(sdk, customer, call):
    ada = customer(name="Ada")
    sdk.customers.delete(str(ada.id))

    with pytest.raises(ResourceNotFound):
        call(sdk, ada)

    assert Customer.objects.get(pk=ada.id).name == "Ada"


def test_a_deleted_customers_orders_stay_visible(sdk, customer):
    ada = customer()
    orders = OrderFactory.create_batch(2, customer=ada)

    sdk.customers.delete(str(ada.id))

    listed = sdk.orders.list(customer_id=str(ada.id))
    assert set(ids(listed)) == {str(o.id) for o in orders}
    assert sdk.orders.get(str(orders[0].id)).customer.deleted_at is not None


def test_deleting_a_customer_cancels_its_ongoing_subscriptions(sdk, customer):
    ada = customer()
    active = SubscriptionFactory(customer=ada, status="active")
    past_due = SubscriptionFactory(customer=ada, status="past_due")
    already_canceled = SubscriptionFactory(
        customer=ada, status="canceled", canceled_at=timezone.now() - timedelta(days=3)
    )

    sdk.customers.delete(str(ada.id))

    for subscription in (active, past_due):
        got = sdk.subscriptions.get(str(subscription.id))
        assert got.status == "canceled"
        assert got.ended_at is not None
    unchanged = Subscription.objects.get(pk=already_canceled.pk)
    assert unchanged.canceled_at == already_canceled.canceled_at
    assert unchanged.ended_at is None


def test_a_deleted_customers_email_and_external_id_can_be_reused(sdk, customer):
    ada = customer(email="ada@example.com", external_id="user_1")
    sdk.customers.delete(str(ada.id))

    again = sdk.customers.create(email="ada@example.com", external_id="user_1")

    assert again.id != str(ada.id)
    assert sdk.customers.get_external("user_1").id == again.id
    old = Customer.objects.get(pk=ada.id)
    assert old.external_id is None
    assert old.metadata["__external_id"] == "user_1"


def test_delete_with_anonymize_scrubs_personal_data(sdk, customer):
    ada = customer(
        email="ada@example.com",
        name="Ada Lovelace",
        billing_name="A. Lovelace",
        billing_address_line1="12 Rue de Rivoli",
        billing_address_city="Paris",
        billing_address_country="FR",
    )

    sdk.customers.delete(str(ada.id), anonymize=True)

    scrubbed = Customer.objects.get(pk=ada.id)
    assert scrubbed.deleted_at is not None
    assert scrubbed.email.endswith("@anonymized.invalid")
    assert "ada" not in scrubbed.email
    assert scrubbed.name == ""
    assert scrubbed.billing_name == ""
    assert scrubbed.billing_address_line1 == ""
    assert scrubbed.billing_address_city == ""
    assert scrubbed.billing_address_country == ""


def test_delete_with_anonymize_keeps_a_business_name_and_tax_id(sdk, customer):
    acme = customer(email="billing@acme.test", name="Acme Corp", tax_id="FR40303265045")

    sdk.customers.delete(str(acme.id), anonymize=True)

    scrubbed = Customer.objects.get(pk=acme.id)
    assert scrubbed.email.endswith("@anonymized.invalid")
    assert (scrubbed.name, scrubbed.tax_id) == ("Acme Corp", "FR40303265045")


def test_delete_without_anonymize_keeps_personal_data(sdk, customer):
    ada = customer(email="ada@example.com", name="Ada Lovelace")

    sdk.customers.delete(str(ada.id))

    kept = Customer.objects.get(pk=ada.id)
    assert (kept.email, kept.name) == ("ada@example.com", "Ada Lovelace")


# --- By external ID ---------------------------------------------------------------------


def test_get_external(sdk, customer):
    ada = customer(external_id="user_1", email="ada@example.com")
    customer(external_id="user_2")

    got = sdk.customers.get_external("user_1")

    assert (got.id, got.email) == (str(ada.id), "ada@example.com")


def test_update_external_changes_the_fields_sent(sdk, customer):
    ada = customer(external_id="user_1", name="Ada", metadata={"plan": "pro"})

    updated = sdk.customers.update_external("user_1", name="Ada L", metadata={"plan": "team"})

    assert (updated.id, updated.external_id) == (str(ada.id), "user_1")
    assert (updated.name, updated.metadata) == ("Ada L", {"plan": "team"})
    ada.refresh_from_db()
    assert (ada.name, ada.metadata) == ("Ada L", {"plan": "team"})


def test_update_external_refuses_invalid_metadata(sdk, customer):
    customer(external_id="user_1", metadata={"plan": "pro"})

    with pytest.raises(HTTPValidationError) as exc_info:
        sdk.customers.update_external("user_1", metadata={"plan": ""})

    assert [loc for loc, _ in errors_of(exc_info)] == [["body", "metadata", "plan"]]


def test_delete_external(sdk, customer):
    ada = customer(external_id="user_1")
    subscription = SubscriptionFactory(customer=ada)

    sdk.customers.delete_external("user_1")

    with pytest.raises(ResourceNotFound):
        sdk.customers.get_external("user_1")
    with pytest.raises(ResourceNotFound):
        sdk.customers.get(str(ada.id))
    assert sdk.subscriptions.get(str(subscription.id)).status == "canceled"


def test_delete_external_with_anonymize(sdk, customer):
    ada = customer(external_id="user_1", email="ada@example.com", name="Ada")

    sdk.customers.delete_external("user_1", anonymize=True)

    scrubbed = Customer.objects.get(pk=ada.id)
    assert scrubbed.email.endswith("@anonymized.invalid")
    assert scrubbed.name == ""


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk: sdk.customers.get_external("nobody"),
        lambda sdk: sdk.customers.update_external("nobody", name="X"),
        lambda sdk: sdk.customers.delete_external("nobody"),
        lambda sdk: sdk.customers.get_state_external("nobody"),
    ],
    ids=["get", "update", "delete", "state"],
)
def test_an_unknown_external_id_is_not_found(sdk, customer, call):
    customer(external_id="user_1")

    with pytest.raises(ResourceNotFound) as exc_info:
        call(sdk)

    assert (exc_info.value.error.error, exc_info.value.error.detail) == (
        "ResourceNotFound",
        "Not found",
    )


# --- State ------------------------------------------------------------------------------


@pytest.fixture
def subscribed_customer(customer):
    """A customer with one subscription in each status; returns (customer, {status: sub})."""
    ada = customer(external_id="user_1", email="ada@example.com")
    subscriptions = {
        status: SubscriptionFactory(customer=ada, status=status)
        for status in ("active", "trialing", "past_due", "canceled", "incomplete", "unpaid")
    }
    return ada, subscriptions


@pytest.mark.parametrize("by", ["id", "external_id"])
def test_state_lists_only_active_subscriptions(sdk, subscribed_customer, by):
    ada, subscriptions = subscribed_customer

    if by == "id":
        state = sdk.customers.get_state(str(ada.id))
    else:
        state = sdk.customers.get_state_external("user_1")

    assert (state.id, state.email, state.external_id) == (str(ada.id), "ada@example.com", "user_1")
    listed = {s.id: s for s in state.active_subscriptions}
    assert set(listed) == {str(subscriptions[s].id) for s in ("active", "trialing", "past_due")}
    active = subscriptions["active"]
    listed_active = listed[str(active.id)]
    assert listed_active.amount == active.amount
    assert listed_active.currency == active.currency
    assert listed_active.product_id == str(active.product_id)
    assert listed_active.recurring_interval == "month"


def test_state_of_a_customer_without_subscriptions(sdk, customer):
    ada = customer()

    state = sdk.customers.get_state(str(ada.id))

    assert state.active_subscriptions == []
    assert state.granted_benefits == []


def test_state_drops_a_subscription_once_revoked(sdk, subscribed_customer):
    ada, subscriptions = subscribed_customer

    sdk.subscriptions.revoke(str(subscriptions["active"].id))

    state = sdk.customers.get_state(str(ada.id))
    assert {s.id for s in state.active_subscriptions} == {
        str(subscriptions["trialing"].id),
        str(subscriptions["past_due"].id),
    }


# --- Export -----------------------------------------------------------------------------


def test_export_is_csv_with_a_header_and_one_row_per_live_customer(
    sdk, customer, other_organization
):
    now = timezone.now()
    ada = customer(
        email="ada@example.com",
        name="Ada, Countess",
        external_id="user_1",
        metadata={"plan": "pro", "seats": 3, "beta": True},
        billing_address_city="London",
        billing_address_country="GB",
        created_at=now - timedelta(days=2),
    )
    grace = customer(email="grace@example.com", name="Grace", created_at=now - timedelta(days=1))
    deleted = customer(email="gone@example.com")
    deleted.deleted_at = now
    deleted.save()
    CustomerFactory(organization=other_organization, email="theirs@example.com")

    text = sdk.customers.export()

    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].split(",") == CSV_COLUMNS
    assert [row["email"] for row in rows] == ["ada@example.com", "grace@example.com"]
    first, second = rows
    assert first["id"] == str(ada.id)
    assert datetime.fromisoformat(first["created_at"]) == ada.created_at
    assert first["name"] == "Ada, Countess"
    assert first["external_id"] == "user_1"
    assert first["billing_address_city"] == "London"
    assert first["billing_address_country"] == "GB"
    assert json.loads(first["metadata"]) == {"plan": "pro", "seats": 3, "beta": True}
    assert second["id"] == str(grace.id)
    assert second["external_id"] == ""
    assert json.loads(second["metadata"]) == {}


def test_export_of_an_organization_without_customers_is_just_the_header(sdk):
    text = sdk.customers.export()

    assert list(csv.reader(io.StringIO(text))) == [CSV_COLUMNS]


# --- Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk, id: sdk.customers.get(id),
        lambda sdk, id: sdk.customers.update(id, name="X"),
        lambda sdk, id: sdk.customers.delete(id),
        lambda sdk, id: sdk.customers.get_state(id),
    ],
    ids=["get", "update", "delete", "state"],
)
@pytest.mark.parametrize("missing_id", [MISSING_ID, "not-a-uuid"], ids=["unknown", "malformed"])
def test_a_missing_or_malformed_id_is_not_found(sdk, customer, call, missing_id):
    customer()

    with pytest.raises(ResourceNotFound) as exc_info:
        call(sdk, missing_id)

    assert exc_info.value.status_code == 404
    assert exc_info.value.error.error == "ResourceNotFound"
    assert exc_info.value.error.detail == "Not found"


@pytest.mark.parametrize(
    "token", ["polar_oat_not-a-real-token", "garbage"], ids=["unknown", "unprefixed"]
)
def test_a_bad_token_is_a_401(sdk_with, customer, token):
    customer()

    with pytest.raises(PolarClientError) as exc_info:
        sdk_with(token).customers.list()

    assert exc_info.value.status_code == 401
    assert body_of(exc_info) == {
        "error": "Unauthorized",
        "detail": "A valid access token is required.",
    }


def test_a_read_only_token_cannot_create(sdk_with, make_token, organization):
    read_only = sdk_with(make_token(organization, scopes=["customers:read"]))

    with pytest.raises(PolarClientError) as exc_info:
        read_only.customers.create(email="ada@example.com")

    assert exc_info.value.status_code == 403
    assert body_of(exc_info)["error"] == "NotPermitted"
    assert "customers:write" in body_of(exc_info)["detail"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk, c: sdk.customers.update(str(c.id), name="X"),
        lambda sdk, c: sdk.customers.delete(str(c.id)),
        lambda sdk, c: sdk.customers.update_external("user_1", name="X"),
        lambda sdk, c: sdk.customers.delete_external("user_1"),
    ],
    ids=["update", "delete", "update_external", "delete_external"],
)
def test_a_read_only_token_cannot_write(sdk_with, make_token, organization, customer, call):
    ada = customer(external_id="user_1", name="Ada")
    read_only = sdk_with(make_token(organization, scopes=["customers:read"]))

    with pytest.raises(PolarClientError) as exc_info:
        call(read_only, ada)

    assert exc_info.value.status_code == 403
    ada.refresh_from_db()
    assert (ada.name, ada.deleted_at) == ("Ada", None)


@pytest.mark.parametrize(
    "call",
    [
        lambda sdk, c: sdk.customers.list(),
        lambda sdk, c: sdk.customers.get(str(c.id)),
        lambda sdk, c: sdk.customers.get_external("user_1"),
        lambda sdk, c: sdk.customers.get_state(str(c.id)),
        lambda sdk, c: sdk.customers.export(),
    ],
    ids=["list", "get", "get_external", "state", "export"],
)
def test_a_token_without_customer_scopes_cannot_read(
    sdk_with, make_token, organization, customer, call
):
    ada = customer(external_id="user_1")
    orders_only = sdk_with(make_token(organization, scopes=["orders:read"]))

    with pytest.raises(PolarClientError) as exc_info:
        call(orders_only, ada)

    assert exc_info.value.status_code == 403


def test_a_write_only_token_can_also_read(sdk_with, make_token, organization, customer):
    ada = customer()
    writer = sdk_with(make_token(organization, scopes=["customers:write"]))

    assert writer.customers.get(str(ada.id)).id == str(ada.id)

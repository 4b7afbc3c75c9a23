"""The dry run: counts, diffs and every error with its row and column; nothing written."""

import io

import pytest

from activity.models import Entry
from customers import services
from customers.export import csv_pieces
from customers.models import Customer
from imports.mapping import auto_map
from imports.plan import Options, dry_run
from imports.reader import read_rows, sniff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(organization):
    return services.customer_create(
        organization=organization,
        email="ada@example.com",
        external_id="u1",
        name="Ada",
        metadata={"plan": "free", "seats": 2},
    )


@pytest.fixture
def bo(organization):
    return services.customer_create(organization=organization, email="bo@example.com")


def plan(organization, text: str, **options):
    data = text.encode()
    fmt = sniff(data)
    return dry_run(
        organization, read_rows(io.BytesIO(data), fmt), auto_map(fmt.header), Options(**options)
    )


def errors(result) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


def test_creates_updates_and_unchanged_rows_with_their_diffs(organization, ada, bo):
    stored = (Customer.objects.count(), Entry.objects.count())
    result = plan(
        organization,
        "email,external_id,name,metadata.plan\n"
        "ada@example.com,u1,Ada Lovelace,pro\n"  # matched by external ID: name and plan change
        "BO@example.com,,,\n"  # matched by email, ignoring case; blanks keep: unchanged
        "cy@example.com,u3,Cy,team\n",  # new
    )
    assert result.counts == {"create": 1, "update": 1, "unchanged": 1, "error": 0}
    assert result.changes[0] == (
        2,
        "update",
        ada.pk,
        {"metadata.plan": ["free", "pro"], "name": ["Ada", "Ada Lovelace"]},
    )
    row, action, customer_id, changes = result.changes[1]
    assert (row, action, customer_id) == (4, "create", None)
    assert changes["email"] == ["", "cy@example.com"] or changes["email"][1] == "cy@example.com"
    assert changes["metadata.plan"] == [None, "team"]
    # The dry run writes nothing.
    assert (Customer.objects.count(), Entry.objects.count()) == stored


def test_every_rule_is_an_error_at_its_row_and_column(organization, ada, bo):
    long_key = "k" * 41
    fifty_one = "{" + ",".join(f'""k{i}"": {i}' for i in range(51)) + "}"
    result = plan(
        organization,
        "email,external_id,metadata,billing_address_country\n"
        "ada@example.com,u2,,\n"  # would change Ada's set external ID
        "bo@example.com,u1,,\n"  # u1 is Ada: Bo's email belongs to another customer
        f'new@example.com,,"{{""{long_key}"": 1}}",\n'
        f'new2@example.com,,"{fifty_one}",\n'
        "not-an-email,,,\n"
        "c@example.com,,,XX\n"
        "d@example.com,u9,,\n"
        "e@example.com,u9,,\n",  # the same new external ID as the row before
    )
    assert result.counts["error"] == 7
    assert errors(result) == [
        (2, "external_id", "The matched customer's external ID is 'u1'; it cannot change."),
        (3, "email", "Another customer has this email."),
        (
            4,
            f"metadata.{long_key}",
            f"Metadata key {long_key!r} is 41 characters long; keys can be at most 40.",
        ),
        (5, "metadata", "Metadata can have at most 50 keys; it has 51."),
        (6, "email", "Enter a valid email address."),
        (7, "billing_address_country", errors(result)[5][2]),
        (9, "external_id", "This row sets the same external ID as row 8."),
    ]
    assert "XX" in errors(result)[5][2]


def test_matched_by_email_an_external_id_of_another_customer_is_an_error(organization, ada, bo):
    result = plan(
        organization,
        "email,external_id\nbo@example.com,u1\nnew@example.com,u1\n",  # u1 is Ada's
        match="email",
    )
    assert errors(result) == [
        (2, "external_id", "Another customer has this external ID."),
        (3, "external_id", "Another customer has this external ID."),
    ]


def test_two_rows_matching_one_customer(organization, ada):
    result = plan(organization, "email,name\nada@example.com,A\nADA@example.com,B\n")
    assert errors(result) == [(3, "", "This row matches the same customer as row 2.")]


def test_modes(organization, ada):
    text = "email,name\nada@example.com,A\nnew@example.com,N\n"
    assert errors(plan(organization, text, mode="create")) == [
        (2, "", "This customer exists already (create only).")
    ]
    assert errors(plan(organization, text, mode="update")) == [
        (3, "", "No customer matches this row (update only).")
    ]


def test_blank_cells_keep_or_clear_and_metadata_merges_or_replaces(organization, ada):
    text = "external_id,name,metadata.plan,metadata.extra\nu1,,,x\n"
    ((_, _, _, kept),) = plan(organization, text).changes
    assert kept == {"metadata.extra": [None, "x"]}
    ((_, _, _, cleared),) = plan(organization, text, blank="clear").changes
    assert cleared == {
        "metadata.extra": [None, "x"],
        "metadata.plan": ["free", None],
        "name": ["Ada", ""],
    }
    ((_, _, _, replaced),) = plan(organization, text, metadata="replace").changes
    assert replaced == {
        "metadata.extra": [None, "x"],
        "metadata.plan": ["free", None],
        "metadata.seats": [2, None],
    }


def test_first_and_last_name_make_the_name(organization):
    result = plan(organization, "E-mail,First Name,Last Name\nx@example.com,Grace,Hopper\n")
    assert result.changes[0][3]["name"][1] == "Grace Hopper"


def test_our_own_export_imports_as_no_change(organization, ada, bo):
    services.customer_update(
        customer=bo,
        name="=HYPERLINK(1)",  # written with the formula guard, read back without it
        billing_address_country="FR",
        metadata={"ratio": 0.5, "beta": True, "n": 7, "code": "007"},
    )
    exported = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()
    result = plan(organization, exported)
    assert result.errors == []
    assert result.counts == {"create": 0, "update": 0, "unchanged": 2, "error": 0}

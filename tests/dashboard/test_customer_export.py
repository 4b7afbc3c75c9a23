"""The list's "Export CSV" button: the customers the list shows, as a streamed download."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.urls import reverse

from customers import services
from customers.export import CSV_COLUMNS, csv_cell_decode, csv_cell_encode, csv_pieces
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


def download(client, organization, **params):
    response = client.get(reverse("customers:export", args=[organization.slug]), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="{organization.slug}-customers-'
    )
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_list_links_to_an_export_of_what_it_shows(merchant, organization):
    CustomerFactory(organization=organization, email="ada@example.com", metadata={"plan": "pro"})
    list_url = reverse("customers:list", args=[organization.slug])
    export_url = reverse("customers:export", args=[organization.slug])
    assert f'href="{export_url}"' in merchant.get(list_url).text
    page = merchant.get(list_url, {"query": "ada", "metadata[plan]": "pro", "sorting": "email"})
    assert f'href="{export_url}?query=ada&amp;metadata%5Bplan%5D=pro"' in page.text
    assert "Export these customers (CSV)" in page.text


def test_export_follows_search_and_filters_and_tenancy(merchant, organization, other_organization):
    CustomerFactory(organization=organization, email="ada@example.com", metadata={"plan": "pro"})
    CustomerFactory(organization=organization, email="bob@example.com", metadata={"plan": "free"})
    gone = CustomerFactory(organization=organization, email="gone@example.com")
    services.customer_delete(customer=gone)
    CustomerFactory(organization=other_organization, email="theirs@example.com")

    everyone = download(merchant, organization)
    assert sorted(r["email"] for r in everyone) == ["ada@example.com", "bob@example.com"]
    assert [r["email"] for r in download(merchant, organization, **{"metadata[plan]": "pro"})] == [
        "ada@example.com"
    ]
    assert [r["email"] for r in download(merchant, organization, query="BOB")] == [
        "bob@example.com"
    ]
    assert download(merchant, organization, query="nobody") == []


def test_bad_filters_get_a_400(merchant, organization):
    url = reverse("customers:export", args=[organization.slug])
    response = merchant.get(url, {"active": "maybe"})
    assert response.status_code == 400


def test_outsiders_cannot_export(client, outsider, organization):
    CustomerFactory(organization=organization)
    client.force_login(outsider)
    assert client.get(reverse("customers:export", args=[organization.slug])).status_code == 404


def test_the_format_is_the_same_on_both_databases(organization):
    """PostgreSQL writes the CSV with COPY, SQLite with Python: one format."""
    ada = CustomerFactory(
        organization=organization,
        email="ada@example.com",
        name='Ada "Countess", of\nLovelace',
        external_id="u_1",
        metadata={"plan": "pro", "seats": 3, "beta": True, "city": "Zürich"},
        billing_address_country="GB",
    )
    CustomerFactory(organization=organization, email="bob@example.com", name="", metadata={})
    text = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()

    assert text.endswith("\n") and "\r\n" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    second = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert first["id"] == str(ada.id)
    assert first["name"] == 'Ada "Countess", of\nLovelace'
    assert first["created_at"].endswith("Z")
    assert datetime.fromisoformat(first["created_at"]) == ada.created_at
    assert json.loads(first["metadata"]) == {
        "plan": "pro",
        "seats": 3,
        "beta": True,
        "city": "Zürich",
    }
    assert "Zürich" in first["metadata"]  # UTF-8, not \\u escapes
    assert first["billing_address_line1"] == "" and first["billing_address_country"] == "GB"
    assert second["external_id"] == "" and second["name"] == "" and second["metadata"] == "{}"
    # Empty fields are empty, never a quoted "".
    assert ',"",' not in text


def test_pieces_are_bounded_whatever_the_row_count(organization):
    CustomerFactory.create_batch(200, organization=organization, name="N" * 200)
    pieces = list(csv_pieces(Customer.objects.for_org(organization), piece_bytes=4096))
    assert len(pieces) > 10
    assert max(len(p) for p in pieces) < 4096 + 1024  # a piece overshoots by one row at most
    assert sum(p.count(b"\n") for p in pieces) == 201


# --- Spreadsheet formulas (CSV injection) ------------------------------------------------

HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://evil.example","Click")',
    "+1 555",
    "-5",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "'=x",  # already quoted by someone: must come back with its quote
    "''+x",
    "'plain",  # a quote before harmless text
    "'",
    "-",
    "=",
]
HARMLESS = ["", "Ada", "ada@example.com", "1+1", " =x", "\nx", '{"a": 1}', "x=1", "''"]


@pytest.mark.parametrize("value", HOSTILE + HARMLESS)
def test_every_value_reads_back_as_it_was(value):
    assert csv_cell_decode(csv_cell_encode(value)) == value


@pytest.mark.parametrize("value", HOSTILE + HARMLESS)
def test_no_encoded_cell_starts_like_a_formula(value):
    assert not csv_cell_encode(value).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_cells_that_start_like_a_formula_get_a_quote_and_others_stay_as_they_are():
    assert csv_cell_encode("=1+1") == "'=1+1"
    assert csv_cell_encode("-5") == "'-5"
    assert csv_cell_encode("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell_encode("\tx") == "'\tx"
    assert csv_cell_encode("\rx") == "'\rx"
    # A quote already in front of a trigger gets one more, so the decoder strips only ours.
    assert csv_cell_encode("'=x") == "''=x"
    assert csv_cell_decode("''=x") == "'=x"
    for value in ["Ada", "'plain", "'", "1+1", " =x", ""]:
        assert csv_cell_encode(value) == value
        assert csv_cell_decode(value) == value


def test_the_export_neutralises_formulas_byte_for_byte_on_both_databases(organization):
    """PostgreSQL quotes them in the COPY's SQL, SQLite in Python: the same bytes."""
    hostile = CustomerFactory(
        organization=organization,
        external_id="@SUM(A1)",
        email="=cmd@example.com",
        name='=HYPERLINK("http://evil.example","Click")',
        tax_id="+1 555",
        billing_name="-5",
        billing_address_line1="\rx",
        billing_address_line2="\tx",
        billing_address_postal_code="'=x",
        billing_address_city="'plain",
        billing_address_state="-",
        billing_address_country="GB",
        metadata={"note": "=1+1"},
    )
    text = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()
    created_at = hostile.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert text.split("\n", 1)[1] == (
        f"{hostile.id},'@SUM(A1),{created_at},'=cmd@example.com,"
        '"\'=HYPERLINK(""http://evil.example"",""Click"")",\'+1 555,\'-5,'
        "\"'\rx\",'\tx,''=x,'plain,'-,GB,"
        '"{""note"": ""=1+1""}"\n'
    )

    # What an import of this file will do: decode every text cell, get the originals back.
    row = dict(zip(CSV_COLUMNS, list(csv.reader(io.StringIO(text)))[1], strict=True))
    decoded = {column: csv_cell_decode(value) for column, value in row.items()}
    for column in CSV_COLUMNS:
        if column not in ("id", "created_at", "metadata"):
            assert decoded[column] == getattr(hostile, column), column
    assert json.loads(decoded["metadata"]) == {"note": "=1+1"}


def test_metadata_is_written_byte_for_byte_the_same_on_both_databases(organization):
    """PostgreSQL prints jsonb with its keys by length then bytes, and numbers as numeric
    does; Python writes SQLite's metadata the same way."""
    CustomerFactory(
        organization=organization,
        metadata={
            "plan": "pro",
            "seats": 3,
            "ü": 1.5e20,
            "ab": 1e-05,
            "beta": True,
            "z": -0.0,
            "price": 1000.0,
            "note": 'tab\there "q" \u0001 ü',
            "off": False,
            "big": 12345678901234567890,
            "neg": -2.5,
        },
    )
    text = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()
    metadata = list(csv.reader(io.StringIO(text)))[1][-1]
    assert metadata == (
        '{"z": 0.0, "ab": 0.00001, "ü": 150000000000000000000, "big": 12345678901234567890, '
        '"neg": -2.5, "off": false, "beta": true, "note": "tab\\there \\"q\\" \\u0001 ü", '
        '"plan": "pro", "price": 1000.0, "seats": 3}'
    )

"""The CSV export against spreadsheet formulas in a locale whose list separator is `;`
(German, French, Dutch... Excel): Excel opens a .csv there splitting each line at `;`, so
`x;=cmd|' /C calc'!A0` in one of our comma-separated cells becomes a cell of its own that
starts with `=`, after the leading quote that neutralised the cell as a whole."""

import csv
import io
import re

import pytest

from customers.export import CSV_COLUMNS, csv_cell_decode, csv_cell_encode, csv_pieces
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TRIGGERS = "=+-@\t\r"


def semicolon_cells(line_cells: list[str]) -> list[str]:
    """What a `;`-locale spreadsheet makes of our cells: each split again at `;`."""
    return [piece for cell in line_cells for piece in cell.split(";")]


@pytest.mark.parametrize(
    "value",
    ["x;=1+1", "x;=cmd|' /C calc'!A0", "a;b;@SUM(A1)", "x;'=y", "x;;-5", "x; =1", "=a;+b"],
)
def test_no_piece_of_a_cell_split_at_semicolons_starts_like_a_formula(value):
    encoded = csv_cell_encode(value)
    for piece in encoded.split(";"):
        assert not piece.startswith(tuple(TRIGGERS)), (value, encoded)
    assert csv_cell_decode(encoded) == value


def test_the_export_neutralises_semicolon_pieces_byte_for_byte_on_both_databases(organization):
    hostile = CustomerFactory(
        organization=organization,
        email="a@example.com",
        name="Ada;=cmd|' /C calc'!A0",
        tax_id="x;'=y",
        billing_name="plain; text",
        billing_address_country="GB",
        metadata={"note": "x;=1+1"},
    )
    text = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()
    row = list(csv.reader(io.StringIO(text)))[1]
    for piece in semicolon_cells(row):
        assert not re.match("[-=+@\t\r]", piece), piece
    decoded = dict(zip(CSV_COLUMNS, [csv_cell_decode(v) for v in row], strict=True))
    assert decoded["name"] == hostile.name
    assert decoded["tax_id"] == hostile.tax_id
    assert decoded["billing_name"] == "plain; text"
    assert decoded["metadata"] == '{"note": "x;=1+1"}'
    created_at = hostile.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert text.split("\n", 1)[1] == (
        f"{hostile.id},,{created_at},a@example.com,Ada;'=cmd|' /C calc'!A0,x;''=y,"
        'plain; text,,,,,,GB,"{""note"": ""x;\'=1+1""}"\n'
    )

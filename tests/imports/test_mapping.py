"""Columns map themselves where their names say it; metadata cells get their types."""

import pytest

from customers.export import CSV_COLUMNS
from imports.mapping import (
    IGNORE,
    INTEGER,
    NUMBER,
    TEXT,
    YES_NO,
    ColumnMapping,
    auto_map,
    mapping_errors,
    metadata_object,
    metadata_value,
)


def targets(header) -> list[str]:
    return [m.target for m in auto_map(tuple(header))]


def test_our_own_export_maps_itself():
    mapped = dict(zip(CSV_COLUMNS, targets(CSV_COLUMNS), strict=True))
    assert mapped.pop("id") == mapped.pop("created_at") == IGNORE
    assert mapped == {column: column for column in mapped}
    assert mapping_errors(auto_map(tuple(CSV_COLUMNS))) == []


def test_common_names_from_other_systems_map():
    header = ["E-mail", "First Name", "Last Name", "Country Code", "Zip", "User ID", "VAT"]
    assert targets(header) == [
        "email",
        "first_name",
        "last_name",
        "billing_address_country",
        "billing_address_postal_code",
        "external_id",
        "tax_id",
    ]
    assert targets(["Email Address", "Full Name", "Address 1", "Town"]) == [
        "email",
        "name",
        "billing_address_line1",
        "billing_address_city",
    ]


def test_metadata_columns_fill_their_key_and_unknown_columns_are_ignored():
    assert targets(["email", "metadata.plan", "Metadata.Seats", "favourite colour"]) == [
        "email",
        "metadata.plan",
        "metadata.Seats",
        IGNORE,
    ]


def test_a_second_column_for_the_same_field_is_ignored_not_merged():
    assert targets(["email", "E-mail"]) == ["email", IGNORE]


def test_mapping_errors_say_what_to_change():
    errors = mapping_errors(
        [
            ColumnMapping(0, "a", "name"),
            ColumnMapping(1, "b", "name"),
            ColumnMapping(2, "c", "metadata." + "k" * 41),
            ColumnMapping(3, "d", "favourite"),
            ColumnMapping(4, "e", "metadata.x", metadata_type="date"),
        ]
    )
    assert errors == [
        "Two columns fill 'name'; map one of them to something else.",
        "Map a column to email or to external ID: rows are matched by them.",
        f"Column 'c': the metadata key {'k' * 41!r} is longer than 40 characters.",
        "Column 'd': unknown field 'favourite'.",
        "Column 'e': unknown type 'date'.",
    ]


@pytest.mark.parametrize(
    ("cell", "kind", "value"),
    [
        ("pro", "inferred", "pro"),
        ("3", "inferred", 3),
        ("-3", "inferred", -3),
        ("007", "inferred", "007"),  # a leading zero: an identifier
        ("2.5", "inferred", 2.5),
        ("true", "inferred", True),
        ("True", "inferred", "True"),  # only JSON's spelling is inferred
        ("1e400", "inferred", "1e400"),
        ("42", TEXT, "42"),
        (" 42 ", INTEGER, 42),
        ("2.50", NUMBER, 2.5),
        ("12", NUMBER, 12),
        ("Yes", YES_NO, True),
        ("0", YES_NO, False),
    ],
)
def test_metadata_cells_take_their_type(cell, kind, value):
    result = metadata_value(cell, kind)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("cell", "kind", "message"),
    [
        ("2.5", INTEGER, "'2.5' is not a whole number."),
        ("lots", NUMBER, "'lots' is not a number."),
        ("inf", NUMBER, "'inf' is not a number."),
        ("maybe", YES_NO, "'maybe' is not yes or no"),
    ],
)
def test_a_cell_not_of_its_type_says_so(cell, kind, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        metadata_value(cell, kind)


def test_the_metadata_column_is_a_json_object():
    assert metadata_object('{"plan": "pro", "seats": 3}') == {"plan": "pro", "seats": 3}
    assert metadata_object("") == {}
    with pytest.raises(ValueError, match="not valid JSON"):
        metadata_object("{plan: pro}")
    with pytest.raises(ValueError, match="must be a JSON object"):
        metadata_object("[1, 2]")

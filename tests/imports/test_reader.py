"""Reading uploaded CSV files: every accepted variant, and a clear refusal of the rest."""

import codecs
import io

import pytest

from imports.reader import HEAD_BYTES, ImportFileError, read_rows, sniff

ROWS = [["email", "name", "external_id"], ["ada@example.com", "Ada", "u1"], ["b@x.io", "Bo", ""]]


def csv_bytes(rows, delimiter=",", newline="\n", bom=False) -> bytes:
    lines = []
    for row in rows:
        cells = []
        for cell in row:
            if any(c in cell for c in (delimiter, '"', "\n", "\r")):
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(delimiter.join(cells))
    data = (newline.join(lines) + newline).encode()
    return codecs.BOM_UTF8 + data if bom else data


def read(data: bytes):
    fmt = sniff(data[:HEAD_BYTES])
    return fmt, list(read_rows(io.BytesIO(data), fmt))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
def test_every_accepted_variant_reads_the_same(delimiter, newline, bom):
    fmt, rows = read(csv_bytes(ROWS, delimiter, newline, bom))
    assert fmt.header == ("email", "name", "external_id")
    assert (fmt.delimiter, fmt.bom) == (delimiter, bom)
    assert rows == [(2, ROWS[1]), (3, ROWS[2])]


def test_quoted_fields_keep_delimiters_quotes_and_line_breaks_and_row_numbers_stay_right():
    rows = [
        ["email", "name", "billing_address_line1"],
        ["a@x.io", 'Ada "The Countess", Lovelace', "12 Main St\nFlat 3"],
        ["b@x.io", "Bo", "line\r\nbreak"],
        ["c@x.io", "Cy", ""],
    ]
    fmt, read_back = read(csv_bytes(rows, ";", "\r\n"))
    assert fmt.delimiter == ";"
    assert read_back == [(2, rows[1]), (3, rows[2]), (4, rows[3])]


def test_a_comma_inside_names_does_not_fool_the_delimiter():
    rows = [["email;name"], ["a@x.io;Doe, Jane"], ["b@x.io;Roe, Rich"]]
    data = "\n".join(r[0] for r in rows).encode() + b"\n"
    fmt, read_back = read(data)
    assert fmt.delimiter == ";"
    assert read_back[0] == (2, ["a@x.io", "Doe, Jane"])


def test_blank_lines_are_skipped_but_counted():
    _, rows = read(b"email,name\n\na@x.io,Ada\n,\nb@x.io,Bo\n")
    assert rows == [(3, ["a@x.io", "Ada"]), (5, ["b@x.io", "Bo"])]


def test_a_file_larger_than_the_head_streams_row_by_row():
    body = b"email,name\n" + b"".join(f"u{i}@x.io,N{i}\n".encode() for i in range(20_000))
    assert len(body) > HEAD_BYTES
    fmt = sniff(body[:HEAD_BYTES])
    rows = read_rows(io.BytesIO(body), fmt)
    assert next(rows) == (2, ["u0@x.io", "N0"])
    assert sum(1 for _ in rows) == 19_999


def test_a_multibyte_character_cut_by_the_head_is_fine():
    body = b"email,name\n" + ("a@x.io," + "é" * 40_000 + "\n").encode()
    head = body[:HEAD_BYTES]
    assert head[-1] >= 0x80  # cut inside a two-byte character
    assert sniff(head).header == ("email", "name")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le"), "UTF-16"),
        ("email,name\nzoë@x.io,Zoë\n".encode("cp1252"), "not UTF-8 (it looks like Windows-1252"),
        (b"ada@example.com,Ada\nbo@x.io,Bo\n", "looks like data ('ada@example.com')"),
        (b"email,Email\na@x.io,b@x.io\n", "names a column twice: 'email'"),
        (b",,\n1,2,3\n", "The first line is empty"),
    ],
)
def test_what_is_refused_says_what_was_found(data, message):
    with pytest.raises(ImportFileError) as error:
        sniff(data[:HEAD_BYTES])
    assert message in str(error.value)


def test_a_bad_byte_far_into_the_file_names_its_row():
    body = b"email,name\n" + b"a@x.io,A\n" * 10_000 + "z@x.io,Zoë\n".encode("cp1252")
    fmt = sniff(body[:HEAD_BYTES])
    with pytest.raises(ImportFileError, match="Row 10002 is not UTF-8"):
        list(read_rows(io.BytesIO(body), fmt))


def test_the_stream_stays_open_for_its_owner():
    stream = io.BytesIO(csv_bytes(ROWS))
    list(read_rows(stream, sniff(stream.getvalue())))
    assert not stream.closed

"""Reading an uploaded CSV: its format found from its first bytes, then its rows streamed.

What is accepted: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"), `,`, `;`
or tab between fields, CRLF or LF line ends, quoted fields holding delimiters, quotes and
line breaks, and a header line naming the columns. Anything else (a binary file, UTF-16, a
legacy encoding, no header) is refused with an `ImportFileError` saying what was found, so
the merchant knows what to change before re-exporting.

Rows are read from a binary stream through an incremental decoder: memory stays at one
row, whatever the file's size. Row numbers are the spreadsheet's (the header is row 1), so
a field holding line breaks does not shift the numbers of the rows after it.
"""

import codecs
import contextlib
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

DELIMITERS = (",", ";", "\t")
# Enough of the file to see its encoding, delimiter and header (and a few rows after it).
HEAD_BYTES = 64 * 1024
# csv refuses longer fields by default (128 KB); a metadata JSON cell stays well below.
FIELD_LIMIT = 1024 * 1024
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
UTF8_BOM = codecs.BOM_UTF8
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class ImportFileError(ValueError):
    """The file cannot be read as a CSV we take; the message says what was found."""


@dataclass(frozen=True)
class CsvFormat:
    delimiter: str
    bom: bool
    header: tuple[str, ...]

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES[self.delimiter]


def sniff(head: bytes) -> CsvFormat:
    """The format of a file whose first bytes are `head` (up to HEAD_BYTES of them)."""
    if not head.strip():
        raise ImportFileError("The file is empty.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            "The file is UTF-16 encoded (Excel's 'Unicode Text'); save it as 'CSV UTF-8'."
        )
    if b"\x00" in head:
        raise ImportFileError("This is a binary file (it holds NUL bytes), not a CSV file.")
    bom = head.startswith(UTF8_BOM)
    text = _decode_head(head[len(UTF8_BOM) :] if bom else head)
    lines = _records(text, max_records=20)
    if not lines:
        raise ImportFileError("The file has no header line.")
    delimiter = _delimiter(lines)
    header = tuple(cell.strip() for cell in _parse(lines[0], delimiter))
    _check_header(header)
    return CsvFormat(delimiter=delimiter, bom=bom, header=header)


def read_rows(stream: BinaryIO, fmt: CsvFormat) -> Iterator[tuple[int, list[str]]]:
    """`(row number, cells)` for each data row of `stream` (read from its start), the
    header (row 1) skipped; blank lines are passed over. A byte that is not UTF-8 later
    in the file raises ImportFileError naming its row."""
    csv.field_size_limit(FIELD_LIMIT)
    # A byte that is not UTF-8 decodes to a lone surrogate (surrogateescape), found in its
    # row below: a strict decoder would fail a whole chunk ahead of the row being read.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=fmt.delimiter, strict=False)
    row_number = 1
    try:
        next(reader, None)  # the header, already read by sniff()
        for cells in reader:
            row_number += 1
            if not cells or all(not c.strip() for c in cells):
                continue
            for cell in cells:
                if bad := _NOT_UTF8.search(cell):
                    raise ImportFileError(
                        f"Row {row_number} is not UTF-8 (byte 0x{ord(bad.group()) - 0xDC00:02x}); "
                        "save the file as 'CSV UTF-8'."
                    )
            yield row_number, cells
    except csv.Error as error:
        raise ImportFileError(f"Row {row_number + 1} cannot be read: {error}.") from None
    finally:
        # Leave the stream to its owner, who may have closed it already (a job stopped
        # between batches closes its file before this generator is collected).
        with contextlib.suppress(ValueError):
            text.detach()


def _decode_head(head: bytes) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        # final=False: a character cut in two at the end of the head is not an error.
        return decoder.decode(head, final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1
        byte = head[error.start]
        guess = " (it looks like Windows-1252 or Latin-1)" if byte >= 0x80 else ""
        raise ImportFileError(
            f"The file is not UTF-8{guess}: byte 0x{byte:02x} on line {line}. "
            "Save it as 'CSV UTF-8' and upload it again."
        ) from None


def _records(text: str, *, max_records: int) -> list[str]:
    """The text of the first records, a quoted line break kept inside its record; a last
    record cut off by the end of the head is left out unless it is the only one."""
    records, current, quoted = [], [], False
    for line in text.splitlines(keepends=True):
        current.append(line)
        quoted ^= line.count('"') % 2 == 1
        if not quoted:
            record = "".join(current).rstrip("\r\n")
            current = []
            if record.strip():
                records.append(record)
            if len(records) >= max_records:
                break
    if current and not records:
        records.append("".join(current).rstrip("\r\n"))
    return records


def _parse(record: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(record, newline=""), delimiter=delimiter), [])


def _delimiter(records: list[str]) -> str:
    """The delimiter that splits the header into the most columns and every other sampled
    row into as many (a comma inside `Doe, Jane` must not win over a real `;`)."""
    best, best_score = ",", (-1, 0)
    for delimiter in DELIMITERS:
        widths = [len(_parse(r, delimiter)) for r in records]
        consistent = sum(w == widths[0] for w in widths)
        score = (consistent if widths[0] > 1 else 0, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _check_header(header: tuple[str, ...]) -> None:
    if not any(header):
        raise ImportFileError("The first line is empty: the file needs a header line.")
    data_like = [c for c in header if "@" in c or c.replace(".", "").replace("-", "").isdigit()]
    if data_like:
        raise ImportFileError(
            f"The first line looks like data ({data_like[0]!r}), not column names: add a "
            "header line such as email,name,external_id."
        )
    named = [c.casefold() for c in header if c]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise ImportFileError(f"The header names a column twice: {repeated[0]!r}.")

"""The rejected rows of an import as a CSV: the file's own columns, as uploaded, and an
`error` column saying what is wrong with each row, so the merchant can fix them in a
spreadsheet and upload that file again (the `error` column is ignored by the mapping).

Streamed: the file's rows and the stored errors are both read in row order and joined as
they go, so memory stays at one batch of errors whatever the number of rows.
"""

import csv
import io
from collections.abc import Iterator
from itertools import groupby

from imports.jobs import open_rows
from imports.models import CustomerImport, ImportRowError

ERROR_COLUMN = "error"


def errors_csv(customer_import: CustomerImport) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*customer_import.header, ERROR_COLUMN])
    errors = (
        ImportRowError.objects.filter(customer_import=customer_import)
        .order_by("row", "pk")
        .values_list("row", "column", "message")
        .iterator(chunk_size=2_000)
    )
    by_row = groupby(errors, key=lambda error: error[0])
    wanted = next(by_row, None)
    if wanted is not None:
        rows = open_rows(customer_import)
        try:
            for number, cells in rows:
                while wanted is not None and wanted[0] < number:
                    wanted = next(by_row, None)  # a row no longer in the file
                if wanted is None:
                    break
                if wanted[0] == number:
                    writer.writerow([*cells, _describe(wanted[1])])
                    wanted = next(by_row, None)
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
        finally:
            customer_import.file.close()
    yield buffer.getvalue().encode()


def _describe(errors) -> str:
    return "; ".join(f"{column}: {message}" if column else message for _, column, message in errors)

"""Which row of the file first claimed each customer, external ID and email.

Two rows of one file must not claim the same one, so the dry run remembers every claim
until its end: tens of millions of them for a large file. `DiskClaims` keeps them in a
scratch SQLite file (Python's own sqlite3), read a batch of rows at a time, so the
worker's memory stays flat whatever the size of the file; `MemoryClaims` is the same in a
dict, for a batch or a small file.
"""

import json
import sqlite3
import tempfile


class MemoryClaims:
    def __init__(self) -> None:
        self._rows: dict[str, int] = {}

    def prefetch(self, keys: list[str]) -> None:
        """Get ready to answer `get` for these keys (the next batch's)."""

    def get(self, key: str) -> int | None:
        return self._rows.get(key)

    def add(self, key: str, row: int) -> None:
        self._rows[key] = row

    def flush(self) -> None:
        """Keep what was added since the last prefetch."""

    def close(self) -> None:
        self._rows = {}


class DiskClaims(MemoryClaims):
    def __init__(self) -> None:
        super().__init__()
        # Kept open for the object's life, and removed when closed.
        self._file = tempfile.NamedTemporaryFile(prefix="import-claims-", suffix=".sqlite3")  # noqa: SIM115
        self._db = sqlite3.connect(self._file.name)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE claim (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self._new: dict[str, int] = {}

    def prefetch(self, keys: list[str]) -> None:
        self._rows = dict(
            self._db.execute(
                "SELECT key, row FROM claim WHERE key IN (SELECT value FROM json_each(?))",
                (json.dumps(keys),),
            )
        )
        self._new = {}

    def add(self, key: str, row: int) -> None:
        self._rows[key] = row
        self._new[key] = row

    def flush(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO claim VALUES (?, ?)", self._new.items())
        self._new = {}

    def close(self) -> None:
        self._db.close()
        self._file.close()


Claims = MemoryClaims

"""The cost curve (issue 19): the request scenarios at several data sizes, side by side.

`bench/run.sh --sizes 100k,1m,10m` (`make bench SIZES=...`) loads one database per size in
the kept cluster and runs the request scenarios against each; this module holds its
helpers and the report:

    python -m bench.sizes DIR [--results FILE]
        read DIR/load_<N>.json (the load's facts: rows, database size, load time) and
        DIR/scenarios_<N>.json (`bench.scenarios --json`), print the sizes and one row per
        scenario with its p50 at each size and the ratio largest / smallest; with
        --results, append (or replace) the section "## Cost curve (issue 19)" of FILE.

Helpers bench/run.sh calls inside scripts/with-postgres.sh (DATABASE_URL, PG_DATADIR set):

    python -m bench.sizes plan N OUT       before loading N customers: already loaded, or
                                           enough disk? (exit 3 and OUT written if not)
    python -m bench.sizes facts N STATUS SECONDS OUT
                                           record the first load's time in the database
                                           (table bench_load) and write the load's facts
    python -m bench.sizes numbers [--read-only]
                                           the request scenarios a sizes run measures (with
                                           --read-only, those issuing only GETs: the
                                           replica pass's)
    python -m bench.sizes scenarios N ARGS...
                                           bench.scenarios with ARGS, on N customers
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SECTION = "## Cost curve (issue 19)"
GROWTH_MARK = 1.5  # a p50 growing more than this between the smallest and largest size
FALLBACK_BYTES_PER_CUSTOMER = 7_000  # before any size is loaded
FALLBACK_CUSTOMERS_PER_S = 1_000_000 / (25 * 60)  # the 1M seed from scratch: about 25 min
DISK_MARGIN = 1.5
LIST_PAGE = 50  # rows per page of the dashboard list (its "Load more" links)


def parse_size(text: str) -> int:
    """'100k' -> 100,000; '1m' -> 1,000,000; '2500' -> 2,500."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 100k, 1m, 2500)")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    value = float(match.group(1)) * factor
    if value != int(value) or value < 1:
        raise ValueError(f"not a whole number of customers: {text!r}")
    return int(value)


def label(customers: int) -> str:
    if customers % 1_000_000 == 0:
        return f"{customers // 1_000_000}M"
    if customers % 1_000 == 0:
        return f"{customers // 1_000}k"
    return f"{customers:,}"


def _bytes(n: float | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- Helpers for bench/run.sh ------------------------------------------------------------


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _loaded(url: str) -> dict | None:
    """The scale data of one bench_<N> database, if it was loaded (seed_scale commits its
    data in one transaction: the organization exists only once the load is complete)."""
    with _connect(url) as conn:
        if conn.execute("SELECT to_regclass('organizations_organization')").fetchone()[0] is None:
            return None
        if not conn.execute(
            "SELECT 1 FROM organizations_organization WHERE slug = 'scale'"
        ).fetchone():
            return None
        seconds = None
        if conn.execute("SELECT to_regclass('bench_load')").fetchone()[0] is not None:
            row = conn.execute("SELECT seconds FROM bench_load ORDER BY loaded_at LIMIT 1")
            seconds = (row.fetchone() or [None])[0]
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return {"db_bytes": size, "load_seconds": seconds}


def plan(customers: int, out: Path) -> int:
    """Before loading a size: 0 when it is loaded already or the disk can hold it; 3 (with
    OUT holding why) when it cannot."""
    server = os.environ["DATABASE_URL"]
    database = f"bench_{customers}"
    with _connect(_with_database(server, "postgres")) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^bench_[0-9]+$'"
            ).fetchall()
        ]
    loaded = {}
    for name in names:
        facts = _loaded(_with_database(server, name))
        if facts:
            loaded[int(name.removeprefix("bench_"))] = facts
    if customers in loaded:
        print(f"{label(customers)}: {database} is loaded already; reusing it.")
        return 0
    if loaded:
        largest = max(loaded)
        per_customer = loaded[largest]["db_bytes"] / largest
        basis = (
            f"at {_bytes(per_customer * 1000)} per 1,000 customers, as measured at {label(largest)}"
        )
    else:
        per_customer = FALLBACK_BYTES_PER_CUSTOMER
        basis = "at 7 KB per customer: no size is loaded yet"
    timed = {n: f["load_seconds"] for n, f in loaded.items() if f["load_seconds"]}
    if timed:
        timed_size = max(timed)
        rate = timed_size / timed[timed_size]
        rate_basis = f"at {rate:,.0f} customers/s, as measured at {label(timed_size)}"
    else:
        rate = FALLBACK_CUSTOMERS_PER_S
        rate_basis = "at the 1M load's ~25 min on 2 cores: none is timed here yet"
    need = per_customer * customers
    datadir = os.environ.get("PG_DATADIR", ".")
    free = shutil.disk_usage(datadir).free
    print(
        f"{label(customers)}: expect about {_bytes(need)} on disk ({basis}) and a load of "
        f"about {_duration(customers / rate)} ({rate_basis}); {_bytes(free)} free on the "
        f"filesystem of {datadir}."
    )
    if free < DISK_MARGIN * need:
        message = (
            f"refused: needs about {_bytes(need)} ({DISK_MARGIN}x that is "
            f"{_bytes(need * DISK_MARGIN)}), only {_bytes(free)} free"
        )
        print(f"error: {label(customers)} {message}; skipping this size.", file=sys.stderr)
        out.write_text(
            json.dumps({"customers": customers, "status": "refused", "message": message}) + "\n"
        )
        return 3
    return 0


def facts(customers: int, status: str, seconds: float, out: Path) -> int:
    """After the load (or its reuse): keep the first load's time in the database itself
    (table bench_load), then write the load's facts: rows, database size, load time."""
    with _connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_load (customers bigint PRIMARY KEY, "
            "seconds double precision NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"
        )
        if status == "loaded":
            conn.execute(
                "INSERT INTO bench_load (customers, seconds) VALUES (%s, %s) "
                "ON CONFLICT (customers) DO NOTHING",
                [customers, seconds],
            )
        row = conn.execute(
            "SELECT seconds, loaded_at FROM bench_load ORDER BY loaded_at LIMIT 1"
        ).fetchone()
        counts = {}
        for key, table in (
            ("customers", "customers_customer"),
            ("orders", "orders_order"),
            ("subscriptions", "orders_subscription"),
            ("entries", "activity_entry"),
        ):
            counts[key] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    data = {
        "customers": customers,
        "status": status,
        "load_seconds": seconds if status == "loaded" else 0,
        "first_load_seconds": row[0] if row else None,
        "first_loaded_at": row[1].isoformat() if row else None,
        "rows": counts,
        "db_bytes": db_bytes,
    }
    out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


class _AnyContext(dict):
    def __missing__(self, key):
        return 1


def request_numbers(read_only: bool = False) -> list[int]:
    """The scenarios a sizes run measures: bench.scenarios' own, except the export (#9),
    a throughput measurement that grows with the data by design (as the import's 21-24);
    with read_only, only those that issue GETs (not the PATCH #8 nor the POST #15)."""
    from bench import scenarios as sc

    return [
        s.number
        for s in sc.build_scenarios(_AnyContext())
        if not s.export and (not read_only or s.method in {"GET", "HEAD"})
    ]


def run_scenarios(customers: int, argv: list[str]) -> int:
    """bench.scenarios, with the deep list pages (#2, #29) only as deep as the list goes
    when the data set is smaller than 10,000 rows (trial sizes)."""
    from bench import scenarios as sc

    pages = min(sc.DEEP_PAGES, max((customers - 1) // LIST_PAGE, 0))
    if pages < sc.DEEP_PAGES:
        print(
            f"note: {customers:,} customers: the deep list pages (#2, #29) follow "
            f"{pages} 'Load more' links ({pages * LIST_PAGE:,} rows deep), not {sc.DEEP_PAGES}."
        )
        sc.DEEP_PAGES = pages
    return sc.main(argv)


# --- The report -------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def load_runs(directory: Path) -> tuple[list[dict], dict[int, dict], dict[int, dict]]:
    """The sizes' load facts, smallest first, and, by size, the scenario figures of those
    that were measured, on the primary and through the replica."""
    loads = []
    for path in directory.glob("load_*.json"):
        loads.append(json.loads(path.read_text()))
    loads.sort(key=lambda d: d["customers"])
    measured, replica = {}, {}
    for data in loads:
        path = directory / f"scenarios_{data['customers']}.json"
        if path.exists():
            measured[data["customers"]] = json.loads(path.read_text())
        path = directory / f"scenarios_{data['customers']}_replica.json"
        if path.exists():
            replica[data["customers"]] = json.loads(path.read_text())
    return loads, measured, replica


def render(
    loads: list[dict], measured: dict[int, dict], replica: dict[int, dict] | None = None
) -> tuple[str, str, list[str]]:
    from bench.scenarios import _ms

    header = ["Size", "customers", "orders", "subscriptions", "timeline entries", "database",
              "load", "Notes"]  # fmt: skip
    rows = []
    for d in loads:
        n = d["customers"]
        if d["status"] == "refused":
            rows.append([label(n), "—", "—", "—", "—", "—", "—", d.get("message", "refused")])
            continue
        r = d["rows"]
        if d["status"] == "loaded":
            load, note = _duration(d["load_seconds"]), "loaded by this run"
        elif d.get("first_load_seconds"):
            load = "reused"
            note = f"first load took {_duration(d['first_load_seconds'])}"
        else:
            load, note = "reused", "first load's time not recorded"
        if n not in measured:
            note += "; scenarios not measured (see the run's output)"
        per = d["db_bytes"] / n
        rows.append([
            label(n), f"{r['customers']:,}", f"{r['orders']:,}", f"{r['subscriptions']:,}",
            f"{r['entries']:,}", _bytes(d["db_bytes"]), load,
            f"{note}; {_bytes(per * 1000)} per 1,000 customers",
        ])  # fmt: skip
    sizes_table = _table(header, rows, right={1, 2, 3, 4, 5, 6})

    sizes = sorted(measured)
    numbers = sorted({s["number"] for run in measured.values() for s in run["scenarios"]})
    by = {
        n: {s["number"]: s for s in measured[n]["scenarios"]} for n in sizes
    }  # size -> number -> figures
    replica = {n: run for n, run in (replica or {}).items() if n in measured}
    by_replica = {n: {s["number"]: s for s in run["scenarios"]} for n, run in replica.items()}
    ratio_label = f"{label(sizes[-1])} / {label(sizes[0])}" if len(sizes) > 1 else "ratio"
    columns = []  # (heading, size, replica?)
    for n in sizes:
        columns.append((f"p50 {label(n)}", n, False))
        if replica:
            columns.append((f"{label(n)} replica", n, True))
    header = ["#", "Scenario", "SQL", *(c[0] for c in columns), ratio_label, "Notes"]
    rows, grown = [], []
    for number in numbers:
        cells = [by[n].get(number) for n in sizes]
        present = [c for c in cells if c]
        title = present[-1]["name"]  # the largest size's (titles carry counts)
        sql = [str(c["sql"]) if c and c["sql"] is not None else "—" for c in cells]
        sql_cell = sql[0] if len(set(sql)) == 1 else "/".join(sql)
        p50s = [c["p50_ms"] if c else None for c in cells]
        ratio_cell, notes = "—", []
        if len(sizes) > 1 and p50s[0] and p50s[-1]:
            ratio = p50s[-1] / p50s[0]
            ratio_cell = f"{ratio:.2f}x"
            if ratio > GROWTH_MARK:
                ratio_cell += " ▲"
                grown.append(f"#{number}")
        if len(set(sql)) > 1:
            notes.append("SQL count changes with size")
        errors = [f"{label(n)}: {e}" for n, c in zip(sizes, cells, strict=True) if c
                  for e in c["errors"]]  # fmt: skip
        for n in sizes:
            cell = by_replica.get(n, {}).get(number)
            errors += [f"{label(n)} replica: {e}" for e in (cell["errors"] if cell else [])]
        notes += [f"ERROR {e}"[:120] for e in errors]
        p50_cells = []
        for _heading, n, on_replica in columns:
            cell = (by_replica.get(n, {}) if on_replica else by[n]).get(number)
            p = cell["p50_ms"] if cell else None
            p50_cells.append(_ms(p / 1000) if p is not None else "—")
        rows.append([
            str(number), title, sql_cell, *p50_cells, ratio_cell, "; ".join(notes),
        ])  # fmt: skip
    right = {0, 2, *range(3, 4 + len(columns))}
    scenario_table = _table(header, rows, right) if rows else "(no scenario was measured)"

    notes = [
        "p50 with one client on one keep-alive connection (bench/scenarios.py's c=1 "
        "figure); ratio = p50 at the largest size / p50 at the smallest; ▲ marks a p50 "
        f"that grows more than {GROWTH_MARK}x between them"
        + (f" ({', '.join(grown)})." if grown else " (none here)."),
        "Left out unless BENCH_ONLY names them: the CSV export (#9) and the import (21-24), "
        "throughput measurements over every customer that grow with the data by design.",
        "SQL: queries per request (the same at every size unless it shows one per size).",
        *(
            [
                "'<size> replica': the same p50 from a second gunicorn with "
                "DATABASE_REPLICA_URLS pointing at a streaming replica of the bench cluster "
                "(its GET reads served by the replica, its /healthz reporting it usable); only "
                "the read-only scenarios run there ('—' for the writing ones, #8 PATCH and #15 "
                "POST). Primary and replica share this machine's 2 cores, so the column shows "
                "the cost of the routing (health checks, a second connection), not added "
                "capacity."
            ]
            if replica
            else []
        ),
        "Rows are the whole tables': the five small organizations' 5,000 customers (and their "
        "orders) included; load = seed_scale's wall time, 'reused' when the size was loaded "
        "before (its first load's time in the notes).",
    ]
    shallow = [
        f"{label(n)}: {run['deep_pages'] * LIST_PAGE:,} rows"
        for n, run in measured.items()
        if run.get("deep_pages", 200) < 200
    ]
    if shallow:
        notes.append(
            "The deep list pages (#2, #29) go only as deep as a small list goes ("
            + ", ".join(shallow)
            + "), not 10,000 rows."
        )
    return sizes_table, scenario_table, notes


def section(sizes_table: str, scenario_table: str, notes: list[str]) -> str:
    from datetime import UTC, datetime

    return "\n".join([
        SECTION,
        "",
        f"Written by `bench/run.sh --sizes` (bench/sizes.py), "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; see bench/README.md.",
        "",
        "```",
        sizes_table,
        "```",
        "",
        "```",
        scenario_table,
        "```",
        "",
        *(f"- {n}" for n in notes),
        "",
    ])  # fmt: skip


def write_section(path: Path, text: str) -> None:
    """Replace the section (up to the next '## ' heading) or append it."""
    old = path.read_text() if path.exists() else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        body = old.rstrip("\n")
        path.write_text((body + "\n\n" if body else "") + text)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + tail if tail else ""))


def report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizes", description=__doc__)
    parser.add_argument("directory", type=Path, help="the sizes run's load_/scenarios_ files")
    parser.add_argument("--results", type=Path, default=None, help="write the section here")
    args = parser.parse_args(argv)
    loads, measured, replica = load_runs(args.directory)
    if not loads:
        print(f"No load_<N>.json in {args.directory}.", file=sys.stderr)
        return 1
    sizes_table, scenario_table, notes = render(loads, measured, replica)
    print()
    print(sizes_table)
    print()
    print(scenario_table)
    print()
    for note in notes:
        print(f"- {note}")
    if args.results:
        write_section(args.results, section(sizes_table, scenario_table, notes))
        print(f"Written to {args.results} ({SECTION}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else ""
    if command == "plan":
        return plan(int(argv[1]), Path(argv[2]))
    if command == "facts":
        return facts(int(argv[1]), argv[2], float(argv[3]), Path(argv[4]))
    if command == "numbers":
        read_only = "--read-only" in argv[1:]
        print(" ".join(str(n) for n in request_numbers(read_only)))
        return 0
    if command == "parse":
        try:
            print(" ".join(str(parse_size(s)) for s in argv[1].split(",") if s.strip()))
        except ValueError as error:
            print(f"error: --sizes: {error}", file=sys.stderr)
            return 2
        return 0
    if command == "scenarios":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        return run_scenarios(int(argv[1]), argv[2:])
    return report(argv)


if __name__ == "__main__":
    sys.exit(main())

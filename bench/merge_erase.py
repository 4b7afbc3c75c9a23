"""Scenarios 33-35 (issue 18): merge, export and erase of a customer with 10,000 orders
at the scale organization's size, "within 2 s" each:

    python -m bench.merge_erase [--runs 3] [--only 33 34 35] [--results bench/RESULTS.md]

Each run builds its customer (bench.busy: 10,000 orders, 28,000 timeline entries, 20,000
webhook events at the seed's shape) in a transaction that it rolls back, so nothing stays;
bench.merging times the merge preview and the merge of such a customer into the busiest
one, bench.privacy the export (read to its last byte) and the erasure. The p50 of the runs
is reported, in process (no HTTP: the dashboard and the API call the same services).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench import busy
from bench import scenarios as sc

NUMBERS = (33, 34, 35)
SECTION = "## Merge, export and erase (issue 18)"


def build() -> list[sc.Scenario]:
    within = [sc.Target("seconds", 2.0, label="≤ 2 s")]
    title = f"{busy.ORDERS:,} orders"
    return [
        sc.Scenario(33, f"Merge a customer with {title}", "", {}, export=True, targets=within),
        sc.Scenario(34, f"Export a customer with {title}", "", {}, export=True, targets=within),
        sc.Scenario(35, f"Erase a customer with {title}", "", {}, export=True, targets=within),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", type=int, nargs="*", help="run only these scenario numbers")
    parser.add_argument("--organization", default=sc.SCALE_SLUG)
    parser.add_argument("--results", type=Path, default=None, help="add the table to this file")
    args = parser.parse_args(argv)
    only = set(args.only or NUMBERS) & set(NUMBERS)
    if not only:
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from bench import merging, privacy
    from organizations.models import Organization

    organization = Organization.objects.get(slug=args.organization)
    seconds: dict[int, list[float]] = {n: [] for n in NUMBERS}
    facts: dict[int, str] = {}
    for run in range(args.runs):
        if 33 in only:
            merged = merging.measure(organization)
            seconds[33].append(merged["merge_seconds"])
            facts[33] = f"preview {merged['preview_seconds']:.3f} s; moved " + ", ".join(
                f"{n:,} {name}" for name, n in merged["moves"].items() if n
            )
        if only & {34, 35}:
            measured = privacy.measure(organization)
            seconds[34].append(measured["export_seconds"])
            seconds[35].append(measured["erase_seconds"])
            facts[34] = f"{measured['export_bytes'] / 1e6:.1f} MB of JSON"
            facts[35] = (
                f"{measured['erase_statements']} statements; slowest "
                f"{measured['erase_slowest'][0][0]:.2f} s"
            )
            facts[34] += (
                f"; {measured['orders']:,} orders, {measured['entries']:,} timeline entries, "
                f"{measured['events']:,} webhook events"
            )
        print(f"run {run + 1}: " + ", ".join(f"#{n} {seconds[n][-1]:.3f} s" for n in sorted(only)))
    results = {n: sc.Result() for n in NUMBERS}
    targets = {s.number: s.targets[0] for s in build()}
    for n in only:
        values = sorted(seconds[n])
        results[n].p50, results[n].samples = sc.percentile(values, 0.5), len(values)
        results[n].metrics["seconds"] = results[n].p50
        results[n].notes += [
            f"{results[n].p50:.3f} s p50"
            + (" ✓" if targets[n].met(results[n].p50) else " ✗")
            + f" of {len(values)} runs "
            f"({', '.join(f'{v:.2f}' for v in values)})",
            facts[n],
        ]
    shown = [s for s in build() if s.number in only]
    table = sc.render_table(shown, results)
    print()
    print(table)
    if args.results:
        write_section(args.results, table)
        print(f"Added to {args.results}.")
    return 0


def write_section(path: Path, table: str) -> None:
    """The table as a section of its own after the main table (replacing an earlier
    run's)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    before, _, after = text.partition(f"\n{SECTION}\n")
    rest = after.partition("\n## ")[2]
    text = before.rstrip("\n") + "\n"
    text += "\n".join(
        [
            "",
            SECTION,
            "",
            "In process, each run's customer built and rolled back (bench/merge_erase.py; see "
            "bench/README.md).",
            "",
            "```",
            table,
            "```",
            "",
        ]
    )
    if rest:
        text += "\n## " + rest
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

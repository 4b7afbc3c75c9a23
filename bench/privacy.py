"""Export and erase of a customer with 10,000 orders (bench.busy), timed, and rolled back
(nothing is kept):

    DATABASE_URL=postgres://... python -m bench.privacy [--org scale] [--orders 10000]

`measure(organization)` runs both inside one transaction that it rolls back: the export
consumed to its last byte (as a download would be), then the erasure with every scrubber.
Issue 18 asks for each within 2 s at 1M customers for a customer with 10,000 orders.
"""

from __future__ import annotations

import argparse
import os
import time

from bench import busy

TARGET_SECONDS = 2.0


class _RollBack(Exception):
    """Raised to roll the measured transaction back."""


def measure(organization, *, orders: int = busy.ORDERS) -> dict:
    """Seconds for the export and the erase of a customer of `organization` with `orders`
    orders (bench.busy), all rolled back."""
    from django.db import connection, transaction

    from customers import privacy

    result: dict = {}
    try:
        with transaction.atomic():
            customer, counts = busy.busy_customer(organization, orders=orders, label="erase")
            result |= {"customer_id": str(customer.pk), **counts}
            timings: list[tuple[float, str]] = []

            def timed(execute, sql, params, many, context):
                began = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    timings.append((time.perf_counter() - began, sql))

            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                pieces = privacy.customer_export_pieces(customer=customer)
                size = sum(len(piece) for piece in pieces)
            result["export_seconds"] = time.perf_counter() - started
            result["export_bytes"] = size
            result["export_slowest"] = _slowest(timings)
            timings.clear()
            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                privacy.customer_erase(customer=customer)
            result["erase_seconds"] = time.perf_counter() - started
            result["erase_statements"] = len(timings)
            result["erase_slowest"] = _slowest(timings)
            raise _RollBack
    except _RollBack:
        pass
    return result


def _slowest(timings: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(round(seconds, 3), sql[:120]) for seconds, sql in sorted(timings)[-5:][::-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", default="scale", help="the organization's slug")
    parser.add_argument("--orders", type=int, default=busy.ORDERS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from organizations.models import Organization

    organization = Organization.objects.get(slug=args.org)
    result = measure(organization, orders=args.orders)
    print(
        f"customer {result['customer_id']} with {result['orders']:,} orders, "
        f"{result['entries']:,} timeline entries, {result['events']:,} webhook events "
        "(rolled back)"
    )
    for name in ("export", "erase"):
        seconds = result[f"{name}_seconds"]
        verdict = "met" if seconds <= TARGET_SECONDS else "not met"
        print(f"  {name:6} {seconds:7.3f} s  (target {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"  export size {result['export_bytes']:,} bytes")
    for name in ("export", "erase"):
        print(f"  {name}'s slowest statements:")
        for seconds, sql in result[f"{name}_slowest"]:
            print(f"    {seconds:6.3f} s  {sql}")


if __name__ == "__main__":
    main()

"""Export and erase of the organization's customer with the most orders, timed, and rolled
back (nothing is kept):

    DATABASE_URL=postgres://... python -m bench.privacy [--org scale]

`measure(organization)` runs both inside one transaction that it rolls back: the export
consumed to its last byte (as a download would be), then the erasure with every scrubber.
Issue 18 asks for each within 2 s at 1M customers for a customer with 10,000 orders.
"""

from __future__ import annotations

import argparse
import os
import time

TARGET_SECONDS = 2.0


class _RollBack(Exception):
    """Raised to roll the measured transaction back."""


def measure(organization) -> dict:
    """Seconds for the export and the erase of `organization`'s customer with the most
    orders (and that customer's counts), all rolled back."""
    from django.db import connection, transaction
    from django.db.models import Count

    from customers import privacy
    from customers.models import Customer
    from orders.models import Order

    top = (
        Order.objects.filter(organization=organization)
        .values("customer_id")
        .annotate(orders=Count("id"))
        .order_by("-orders")
        .first()
    )
    if top is None:
        return {"customer_id": None, "orders": 0}
    result: dict = {"customer_id": str(top["customer_id"]), "orders": top["orders"]}
    try:
        with transaction.atomic():
            customer = Customer.objects.select_related("organization").get(
                pk=top["customer_id"], deleted_at=None
            )
            started = time.perf_counter()
            size = sum(len(piece) for piece in privacy.customer_export_pieces(customer=customer))
            result["export_seconds"] = time.perf_counter() - started
            result["export_bytes"] = size
            timings: list[tuple[float, str]] = []

            def timed(execute, sql, params, many, context):
                began = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    timings.append((time.perf_counter() - began, sql))

            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                privacy.customer_erase(customer=customer)
            result["erase_seconds"] = time.perf_counter() - started
            result["erase_statements"] = len(timings)
            result["erase_slowest"] = [
                (round(seconds, 3), sql[:120]) for seconds, sql in sorted(timings)[-5:][::-1]
            ]
            raise _RollBack
    except _RollBack:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", default="scale", help="the organization's slug")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from organizations.models import Organization

    organization = Organization.objects.get(slug=args.org)
    result = measure(organization)
    if result.get("customer_id") is None:
        print(f"{args.org}: no orders")
        return
    print(f"customer {result['customer_id']} with {result['orders']:,} orders (rolled back)")
    for name in ("export", "erase"):
        seconds = result[f"{name}_seconds"]
        verdict = "met" if seconds <= TARGET_SECONDS else "not met"
        print(f"  {name:6} {seconds:7.3f} s  (target {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"  export size {result['export_bytes']:,} bytes")
    print(f"  erase statements {result['erase_statements']}, the slowest:")
    for seconds, sql in result["erase_slowest"]:
        print(f"    {seconds:6.3f} s  {sql}")


if __name__ == "__main__":
    main()

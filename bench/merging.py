"""The merge benchmark (issue 18): "works at 1M customers for a customer with 10,000 orders
within 2 s".

    DJANGO_SETTINGS_MODULE=config.settings DATABASE_URL=postgres://... \\
        python -m bench.merging [--organization scale] [--orders 10000]

Inside one transaction that it rolls back at the end (nothing stays), `measure` makes a
customer with ORDERS orders (bench.busy: copies of the busiest customer's orders, their
timeline entries and webhook events) and times `merge_preview` and `customer_merge` of it
into the organization's customer with the most orders (the survivor), and returns the
seconds and what moved. PostgreSQL only: the figures' triggers and the key functions are
PostgreSQL's.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench import busy


class _Rollback(Exception):
    """Raised to leave the benchmark's transaction without keeping anything."""


def measure(organization, *, orders: int = busy.ORDERS) -> dict:
    """Seconds for the preview and the merge of a twin with `orders` orders (bench.busy)
    into the organization's customer with the most orders; everything is rolled back."""
    from django.db import transaction

    from customers.merging import customer_merge, merge_preview

    result: dict = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            survivor_id, survivor_orders = busy.busiest_customer_id(organization)
            twin, counts = busy.busy_customer(organization, orders=orders, label="merge")
            result["setup_seconds"] = round(time.perf_counter() - started, 3)
            result |= {"survivor": str(survivor_id), "survivor_orders": survivor_orders}
            result |= {f"twin_{name}": n for name, n in counts.items()}

            started = time.perf_counter()
            plan = merge_preview(
                organization=organization, customer_id=survivor_id, from_customer_id=twin.pk
            )
            result["preview_seconds"] = round(time.perf_counter() - started, 3)
            versions = {"customer": plan.survivor.version, "from_customer": plan.merged.version}

            started = time.perf_counter()
            done = customer_merge(
                organization=organization,
                customer_id=survivor_id,
                from_customer_id=twin.pk,
                expected_versions=versions,
            )
            result["merge_seconds"] = round(time.perf_counter() - started, 3)
            result["moves"] = done.moves
            raise _Rollback
    except _Rollback:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organization", default="scale", help="the organization's slug")
    parser.add_argument("--orders", type=int, default=busy.ORDERS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from organizations.models import Organization

    organization = Organization.objects.get(slug=args.organization)
    print(json.dumps(measure(organization, orders=args.orders), indent=2))


if __name__ == "__main__":
    main()

"""The merge benchmark (issue 18): "works at 1M customers for a customer with 10,000 orders
within 2 s".

    DJANGO_SETTINGS_MODULE=config.settings DATABASE_URL=postgres://... \\
        python -m bench.merging [--organization scale] [--orders 10000]

Inside one transaction that it rolls back at the end (nothing stays), `measure` makes a
twin of the organization's customer with the most orders: a new customer given ORDERS
copies of that customer's orders and as many copies of its timeline entries, each copied
set-based (one INSERT ... SELECT over generate_series). It then times `merge_preview` and
`customer_merge` of the twin into that customer (the survivor), and returns the seconds
and what moved. PostgreSQL only: the figures' triggers and the key functions are
PostgreSQL's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid

ORDERS = 10_000


class _Rollback(Exception):
    """Raised to leave the benchmark's transaction without keeping anything."""


def _copy_rows(cursor, model, *, source_customer, target_customer, limit: int) -> int:
    """Insert `limit` copies of `source_customer`'s rows of `model` for `target_customer`
    (its rows repeated as often as needed), new IDs, in one statement."""
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields]
    chosen = []
    for column in columns:
        if column == "id":
            chosen.append("gen_random_uuid()")
        elif column == "customer_id":
            chosen.append("%(target)s::uuid")
        else:
            chosen.append(f"s.{column}")
    cursor.execute(f"SELECT count(*) FROM {table} WHERE customer_id = %s", [source_customer])
    have = cursor.fetchone()[0]
    if not have:
        return 0
    repeat = -(-limit // have)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(chosen)} FROM {table} s, generate_series(1, %(repeat)s) n "
        f"WHERE s.customer_id = %(source)s::uuid LIMIT %(limit)s",
        {"target": str(target_customer), "source": str(source_customer),
         "repeat": repeat, "limit": limit},
    )  # fmt: skip
    return cursor.rowcount


def measure(organization, *, orders: int = ORDERS) -> dict:
    """Seconds for the preview and the merge of a twin with `orders` orders into the
    organization's customer with the most orders; everything is rolled back."""
    from django.apps import apps
    from django.db import connection, transaction
    from django.db.models import Count

    from customers.merging import customer_merge, merge_preview
    from customers.services import customer_create

    Order = apps.get_model("orders", "Order")
    Entry = apps.get_model("activity", "Entry")
    result: dict = {}
    try:
        with transaction.atomic():
            top = (
                Order.objects.filter(organization=organization)
                .values("customer_id")
                .annotate(n=Count("id"))
                .order_by("-n")
                .first()
            )
            if top is None:
                raise RuntimeError("The organization has no orders to copy.")
            survivor_id = top["customer_id"]
            twin = customer_create(
                organization=organization,
                email=f"bench-merge-{uuid.uuid4().hex[:12]}@example.invalid",
                name="Bench merge twin",
                metadata={"bench": "merge"},
            )
            started = time.perf_counter()
            with connection.cursor() as cursor:
                # Copied orders leave the figures to one recount at the end, as a merge does.
                cursor.execute("SELECT set_config('customers.merging', 'on', true)")
                copied = _copy_rows(
                    cursor, Order, source_customer=survivor_id, target_customer=twin.pk,
                    limit=orders,
                )  # fmt: skip
                entries = _copy_rows(
                    cursor, Entry, source_customer=survivor_id, target_customer=twin.pk,
                    limit=orders,
                )  # fmt: skip
                cursor.execute("SELECT set_config('customers.merging', 'off', true)")
                cursor.execute("SELECT customers_order_figures_refresh(%s)", [twin.pk])
                cursor.execute("ANALYZE orders_order")
            result["setup_seconds"] = round(time.perf_counter() - started, 3)
            result |= {"survivor": str(survivor_id), "survivor_orders": top["n"]}
            result |= {"twin_orders": copied, "twin_entries": entries}

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
    parser.add_argument("--orders", type=int, default=ORDERS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from organizations.models import Organization

    organization = Organization.objects.get(slug=args.organization)
    print(json.dumps(measure(organization, orders=args.orders), indent=2))


if __name__ == "__main__":
    main()

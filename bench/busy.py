"""A customer with ORDERS orders for issue 18's benchmarks (bench/merging.py,
bench/privacy.py), made inside the caller's transaction, which rolls it back.

The organization's customer with the most orders is the model: the new customer gets
`orders` copies of its orders, as many copies of its order entries in the timeline
(order.* entries, per order as the model has them), one copy of its other entries, and
the webhook events of its orders the same way (or, where it has none, as the seed does
not write them, an order.created and an order.paid event per order); each table copied in
one set-based INSERT ... SELECT. PostgreSQL only.
"""

from __future__ import annotations

import uuid

ORDERS = 10_000


def copy_rows(cursor, model, *, source, target, limit=None, where: str = "TRUE") -> int:
    """Insert `limit` copies of `source`'s rows of `model` matching `where` (SQL over the
    alias s) for customer `target`: the rows repeated as often as needed, new IDs; without
    `limit`, each row once."""
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields]
    chosen = [
        "gen_random_uuid()"
        if column == "id"
        else "%(target)s::uuid"
        if column == "customer_id"
        else f"s.{column}"
        for column in columns
    ]
    cursor.execute(f"SELECT count(*) FROM {table} s WHERE s.customer_id = %s AND {where}", [source])
    have = cursor.fetchone()[0]
    limit = have if limit is None else limit
    if not have or limit <= 0:
        return 0
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(chosen)} FROM {table} s, generate_series(1, %(repeat)s) n "
        f"WHERE s.customer_id = %(source)s::uuid AND {where} LIMIT %(limit)s",
        {"target": str(target), "source": str(source), "repeat": -(-limit // have),
         "limit": limit},
    )  # fmt: skip
    return cursor.rowcount


def busiest_customer_id(organization):
    """The ID of the organization's customer with the most orders, and their count."""
    from django.db.models import Count

    from orders.models import Order

    top = (
        Order.objects.filter(organization=organization)
        .values("customer_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if top is None:
        raise RuntimeError("The organization has no orders to copy.")
    return top["customer_id"], top["n"]


def busy_customer(organization, *, orders: int = ORDERS, label: str = "busy"):
    """A new live customer of `organization` with `orders` orders and the timeline and
    webhook events that go with them (module docstring); returns (customer, counts)."""
    from django.db import connection

    from activity.erasure import PERSONAL_ACTORS
    from activity.models import Entry
    from customers.models import Customer
    from customers.services import customer_create
    from orders.models import Order
    from webhooks.models import WebhookEvent

    model_id, model_orders = busiest_customer_id(organization)
    customer = customer_create(
        organization=organization,
        email=f"bench-{label}-{uuid.uuid4().hex[:12]}@example.invalid",
        name=f"Bench {label}",
        metadata={"bench": label},
    )
    per_order = orders / model_orders
    counts = {}
    with connection.cursor() as cursor:
        # The copies leave the figures to one recount at the end, as a merge does.
        cursor.execute("SELECT set_config('customers.merging', 'on', true)")
        copy = {"source": model_id, "target": customer.pk}
        counts["orders"] = copy_rows(cursor, Order, **copy, limit=orders)
        for name, model, where in (
            ("entries", Entry, "s.type LIKE 'order.%%'"),
            ("events", WebhookEvent, "s.type LIKE 'order.%%'"),
        ):
            cursor.execute(
                f"SELECT count(*) FROM {model._meta.db_table} s "
                f"WHERE s.customer_id = %s AND {where}",
                [model_id],
            )
            scaled = round(cursor.fetchone()[0] * per_order)
            counts[name] = copy_rows(cursor, model, **copy, limit=scaled, where=where)
            counts[name] += copy_rows(cursor, model, **copy, where=f"NOT ({where})")
        if not counts["events"]:
            counts["events"] = _order_events(cursor, customer)
        # The seed names the buyer on each of its entries; the app stores no name for an
        # actor who is the customer (the timeline shows the customer's own): as it would.
        cursor.execute(
            "UPDATE activity_entry SET actor_name = '' WHERE customer_id = %s "
            "AND actor_type = ANY(%s) AND actor_name <> ''",
            [customer.pk, list(PERSONAL_ACTORS)],
        )
        cursor.execute("SELECT set_config('customers.merging', 'off', true)")
        cursor.execute("SELECT customers_order_figures_refresh(%s)", [customer.pk])
        cursor.execute("ANALYZE orders_order")
        cursor.execute("ANALYZE activity_entry")
    return Customer.objects.select_related("organization").get(pk=customer.pk), counts


def _order_events(cursor, customer) -> int:
    """The order.created and order.paid events a webhook endpoint would have had for each
    of `customer`'s orders (the seed writes none): one real payload, built and stored as
    the services do (its personal values kept apart, webhooks.personal), repeated."""
    from datetime import UTC, datetime

    from core.encoding import json_text
    from orders.models import Order
    from orders.schemas import order_event
    from webhooks import personal
    from webhooks.events import _payload, keep_people

    sample = Order.objects.filter(customer=customer).select_related("customer", "product").first()
    if sample is None:
        return 0
    data, person = personal.split("order.created", order_event(sample), customer.pk)
    keep_people(customer.organization_id, [person])
    now = datetime.now(UTC)
    cursor.execute(
        "INSERT INTO webhooks_webhookevent (id, created_at, modified_at, type, payload, "
        "person_id, customer_id, coalesce_key, organization_id) "
        "SELECT gen_random_uuid(), o.created_at, o.created_at, t.type, "
        "CASE t.type WHEN 'order.created' THEN %s::json ELSE %s::json END, "
        "%s, o.customer_id, '', o.organization_id FROM orders_order o, "
        "(VALUES ('order.created'), ('order.paid')) AS t(type) WHERE o.customer_id = %s",
        [
            json_text(_payload("order.created", data, now)),
            json_text(_payload("order.paid", data, now)),
            person.id,
            customer.pk,
        ],
    )
    return cursor.rowcount

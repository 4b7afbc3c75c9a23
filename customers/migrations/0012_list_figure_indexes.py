"""PostgreSQL indexes for the customer list sorted by lifetime revenue and by last order
(both directions, the ID breaking ties), partial on live customers as the list's other
indexes (0007): a page is a range of the index, the first one or one 10,000 rows deep.

The last-order sort key is `COALESCE(last_order_at, '0001-01-01')`: a customer without a
paid order sorts as if its last order were the earliest possible one (after everyone in
"latest order first", before everyone in "oldest order first"), and the key is never NULL,
so a page's cursor compares as any other. The index INCLUDEs the column itself: PostgreSQL
scans an expression index index-only only when the columns the expression reads are there. `customers.querysets.LAST_ORDER_SORT_SQL` spells
the expression exactly as here, which is what lets the planner use the index.

Built CONCURRENTLY: at a million customers a plain CREATE INDEX would hold writes.
"""

from django.db import migrations

INDEXES = {
    "customer_org_revenue_live": "(organization_id, lifetime_revenue, id)",
    "customer_org_last_order_live": (
        "(organization_id, "
        "(COALESCE(last_order_at, '0001-01-01 00:00:00+00'::timestamptz)), id) "
        "INCLUDE (last_order_at)"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers_customer {columns} "
            "WHERE deleted_at IS NULL"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("customers", "0011_list_figures")]

    operations = [migrations.RunPython(create, drop)]

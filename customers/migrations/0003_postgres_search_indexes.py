"""Indexes for a million customers on PostgreSQL, built CONCURRENTLY so a live table stays
writable while they build. SQLite keeps its B-tree indexes and needs none of these.

- Substring search: trigram GIN on UPPER(column), the expression Django's `icontains`
  compiles to, for email, name and external ID.
- Metadata filters: GIN (jsonb_path_ops) for `metadata @> {"key": value}`.
- Sorting and keyset paging by email (created_at and name have theirs).
"""

from django.db import migrations

INDEXES = {
    "customer_email_trgm": "USING gin (UPPER(email::text) gin_trgm_ops) WHERE deleted_at IS NULL",
    "customer_name_trgm": "USING gin (UPPER(name::text) gin_trgm_ops) WHERE deleted_at IS NULL",
    "customer_external_id_trgm": (
        "USING gin (UPPER(external_id::text) gin_trgm_ops) WHERE deleted_at IS NULL"
    ),
    "customer_metadata_gin": "USING gin (metadata jsonb_path_ops) WHERE deleted_at IS NULL",
    "customer_org_email_live": "(organization_id, email, id) WHERE deleted_at IS NULL",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers_customer {definition}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("customers", "0002_external_id_lock_trigger")]

    operations = [migrations.RunPython(create, drop)]

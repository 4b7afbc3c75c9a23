"""Indexes that let a page of the customer list be found among IDs alone (an index-only
scan of the sorting's index, then the page's rows by ID), whatever the page number.

- `customer_org_email_live` (organization, email, id) for sorting by email: PostgreSQL has
  had it since 0003 (built there CONCURRENTLY); it is now in the model's state too, and
  SQLite gets it.
- PostgreSQL only: the live customers with an active subscription in list order, for
  `active=true`. `active_subscriptions` is the column 0006 keeps by trigger (not a model
  field), so the index lives outside the model's state. A subscription crossing active
  in or out now changes an indexed column: that customer UPDATE is no longer HOT, which
  costs the rare status change, not the list.

Built CONCURRENTLY on PostgreSQL: at a million customers a plain CREATE INDEX would hold
writes to the table for the whole build.
"""

from django.db import migrations, models

EMAIL_INDEX = models.Index(
    fields=["organization", "email", "id"],
    condition=models.Q(deleted_at__isnull=True),
    name="customer_org_email_live",
)
ACTIVE_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS customer_org_active_created_live "
    "ON customers_customer (organization_id, created_at, id) "
    "WHERE deleted_at IS NULL AND active_subscriptions > 0"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ACTIVE_INDEX)  # the email index is 0003's
    else:
        schema_editor.add_index(apps.get_model("customers", "Customer"), EMAIL_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS customer_org_active_created_live")
    else:
        schema_editor.remove_index(apps.get_model("customers", "Customer"), EMAIL_INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("customers", "0006_customer_counts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="customer", index=EMAIL_INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]

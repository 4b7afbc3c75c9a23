"""A customer's orders in the API's order (`-created_at, -id`) as one index range, led by
the organization as every composite index is. Built CONCURRENTLY on PostgreSQL, so a live
orders table stays writable while it builds."""

from django.db import migrations, models

INDEX = models.Index(
    fields=["organization", "customer", "created_at", "id"], name="order_org_customer_created"
)


def create(apps, schema_editor):
    model = apps.get_model("orders", "Order")
    if schema_editor.connection.vendor == "postgresql":
        # IF NOT EXISTS: a build interrupted earlier leaves an invalid index of this name;
        # drop it by hand (DROP INDEX CONCURRENTLY) and migrate again.
        sql = INDEX.create_sql(model, schema_editor, concurrently=True)
        schema_editor.execute(str(sql).replace("CONCURRENTLY", "CONCURRENTLY IF NOT EXISTS", 1))
    else:
        schema_editor.add_index(model, INDEX)


def drop(apps, schema_editor):
    model = apps.get_model("orders", "Order")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(model, INDEX, concurrently=True)
    else:
        schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("orders", "0002_subscription_renewals")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="order", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]

"""The index of merged customers (`merged_into`), partial on merged rows, built
CONCURRENTLY on PostgreSQL so a live customers table stays writable while it builds."""

from django.db import migrations, models

INDEX = models.Index(
    fields=["merged_into"],
    condition=models.Q(merged_into__isnull=False),
    name="customer_merged_into",
)


def create(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    if schema_editor.connection.vendor == "postgresql":
        # IF NOT EXISTS: a build interrupted earlier leaves an invalid index of this name;
        # drop it by hand (DROP INDEX CONCURRENTLY) and migrate again.
        sql = INDEX.create_sql(model, schema_editor, concurrently=True)
        schema_editor.execute(str(sql).replace("CONCURRENTLY", "CONCURRENTLY IF NOT EXISTS", 1))
    else:
        schema_editor.add_index(model, INDEX)


def drop(apps, schema_editor):
    model = apps.get_model("customers", "Customer")
    schema_editor.remove_index(
        model,
        INDEX,
        **({"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}),
    )


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("customers", "0013_merge_and_erasure")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="customer", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]

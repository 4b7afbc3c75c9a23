"""Emails are at most 254 characters (RFC 5321), down from 320.

Only PostgreSQL enforces a varchar's length, so only PostgreSQL's column changes: on SQLite
Django would rebuild the table for it, dropping the external ID lock trigger with the old
table. A database holding a longer address stops here with the rows to fix, rather than
failing halfway through an ALTER.
"""

from django.db import migrations, models


def _shorten_column(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM customers_customer WHERE length(email) > 254 LIMIT 20")
        too_long = [str(row[0]) for row in cursor.fetchall()]
    if too_long:
        raise RuntimeError(
            "Customers with an email longer than 254 characters (fix or anonymize them, "
            f"then migrate again): {', '.join(too_long)}"
        )
    schema_editor.execute(
        "ALTER TABLE customers_customer ALTER COLUMN email TYPE varchar(254)", params=None
    )


def _widen_column(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE customers_customer ALTER COLUMN email TYPE varchar(320)", params=None
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_metadata_counts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="email",
                    field=models.EmailField(max_length=254),
                ),
            ],
            database_operations=[migrations.RunPython(_shorten_column, _widen_column)],
        ),
    ]

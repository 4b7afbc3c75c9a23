"""Statistics on `lower(email)`, so PostgreSQL estimates a lookup of many emails right.

The importer finds a batch's customers by email ignoring case, `lower(email) IN (...)`
with 2,000 addresses. The unique index on (organization, lower(email)) serves it, but it
is partial (live customers only), and PostgreSQL keeps no statistics for a partial
index's expression: it guessed each address to match 0.5% of the table, 2,000 of them
all of it, and scanned the million rows (0.9 s a batch). With the expression's own
statistics it estimates one row per address and probes the index (1,990 rows estimated
for 2,000 found).
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE STATISTICS IF NOT EXISTS customer_email_lower_stats "
            "ON (lower(email::text)) FROM customers_customer"
        )
        schema_editor.execute("ANALYZE customers_customer")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS customer_email_lower_stats")


class Migration(migrations.Migration):
    dependencies = [("customers", "0008_customer_day_counts")]
    operations = [migrations.RunPython(create, drop, elidable=False)]

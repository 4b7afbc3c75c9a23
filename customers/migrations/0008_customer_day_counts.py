"""Live customers per organization and day of creation (UTC), kept by PostgreSQL
triggers (see `CustomerDayCount`): a deep page of the list in creation order finds the
day it starts on from these, instead of stepping over every newer row.

`customers_day_recount()` rebuilds them from the table (here, and after seed_scale's
bulk load with the triggers off).
"""

from django.db import migrations, models

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION customers_day_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        INSERT INTO customers_customerdaycount AS c (organization_id, day, shard, customers)
        VALUES (OLD.organization_id, (OLD.created_at AT TIME ZONE 'UTC')::date,
                pg_backend_pid() % 16, -1)
        ON CONFLICT (organization_id, day, shard)
        DO UPDATE SET customers = c.customers - 1;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
        INSERT INTO customers_customerdaycount AS c (organization_id, day, shard, customers)
        VALUES (NEW.organization_id, (NEW.created_at AT TIME ZONE 'UTC')::date,
                pg_backend_pid() % 16, 1)
        ON CONFLICT (organization_id, day, shard)
        DO UPDATE SET customers = c.customers + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_day_count_insert_delete
    AFTER INSERT OR DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_day_count_change();

CREATE TRIGGER customers_day_count_update
    AFTER UPDATE OF deleted_at, organization_id, created_at ON customers_customer
    FOR EACH ROW
    WHEN ((OLD.deleted_at IS NULL) IS DISTINCT FROM (NEW.deleted_at IS NULL)
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION customers_day_count_change();

CREATE OR REPLACE FUNCTION customers_day_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait until the new counts commit, so none of their changes is lost.
    LOCK TABLE customers_customer IN SHARE MODE;
    DELETE FROM customers_customerdaycount;
    INSERT INTO customers_customerdaycount (organization_id, day, shard, customers)
    SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, 0, count(*)
    FROM customers_customer WHERE deleted_at IS NULL
    GROUP BY 1, 2;
END;
$$;

SELECT customers_day_recount();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS customers_day_count_update ON customers_customer;
DROP TRIGGER IF EXISTS customers_day_count_insert_delete ON customers_customer;
DROP FUNCTION IF EXISTS customers_day_recount();
DROP FUNCTION IF EXISTS customers_day_count_change();
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_list_page_indexes")]

    operations = [
        migrations.CreateModel(
            name="CustomerDayCount",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "organization_id",
                        "day",
                        "shard",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("day", models.DateField()),
                ("shard", models.SmallIntegerField()),
                ("customers", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(_postgres(POSTGRES_UP), _postgres(POSTGRES_DOWN)),
    ]

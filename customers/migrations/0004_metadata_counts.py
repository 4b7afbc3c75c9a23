"""Counters of live customers per organization, metadata key and value, kept by
PostgreSQL triggers so the API's `total_count` of a metadata filter is a few-row read
(see `CustomerMetadataCount`). SQLite gets the empty table and keeps counting rows.

`customers_metadata_token(value)` spells a value as `customers.counts.metadata_token`
does. `customers_metadata_recount()` rebuilds every counter from the customers table
(here for existing rows, and after `seed_scale` bulk-loads with the triggers off).
"""

from django.db import migrations, models

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION customers_metadata_token(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(value)
        WHEN 'string' THEN 's:' || (value #>> '{}')
        WHEN 'number' THEN 'n:' || trim_scale(value::numeric)::text
        WHEN 'boolean' THEN 'b:' || value::text
        ELSE 'j:' || value::text
    END
$$;

CREATE OR REPLACE FUNCTION customers_metadata_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    removed jsonb;
    added jsonb;
    removed_from uuid;
    added_to uuid;
BEGIN
    -- A live row's metadata leaves the counts, the new live row's enters them.
    IF TG_OP <> 'INSERT' THEN
        IF OLD.deleted_at IS NULL THEN
            removed := OLD.metadata;
            removed_from := OLD.organization_id;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.deleted_at IS NULL THEN
            added := NEW.metadata;
            added_to := NEW.organization_id;
        END IF;
    END IF;
    INSERT INTO customers_customermetadatacount AS counter
        (organization_id, key, value, shard, customers)
    SELECT organization_id, key, value, pg_backend_pid() % 16, sum(change)
    FROM (
        SELECT removed_from AS organization_id, e.key,
               customers_metadata_token(e.value) AS value, -1 AS change
        FROM jsonb_each(removed) e
        UNION ALL
        SELECT added_to, e.key, customers_metadata_token(e.value), 1
        FROM jsonb_each(added) e
    ) changes
    GROUP BY organization_id, key, value
    HAVING sum(change) <> 0
    ORDER BY organization_id, key, value  -- one lock order for every writer
    ON CONFLICT (organization_id, key, value, shard)
    DO UPDATE SET customers = counter.customers + EXCLUDED.customers;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_metadata_count_insert_delete
    AFTER INSERT OR DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_metadata_count();

CREATE TRIGGER customers_metadata_count_update
    AFTER UPDATE OF metadata, deleted_at, organization_id ON customers_customer
    FOR EACH ROW
    WHEN (OLD.metadata IS DISTINCT FROM NEW.metadata
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION customers_metadata_count();

CREATE OR REPLACE FUNCTION customers_metadata_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait until the new counts commit, so none of their changes is lost.
    LOCK TABLE customers_customer IN SHARE MODE;
    DELETE FROM customers_customermetadatacount;
    INSERT INTO customers_customermetadatacount (organization_id, key, value, shard, customers)
    SELECT c.organization_id, e.key, customers_metadata_token(e.value), 0, count(*)
    FROM customers_customer c, jsonb_each(c.metadata) e
    WHERE c.deleted_at IS NULL
    GROUP BY 1, 2, 3;
END;
$$;

SELECT customers_metadata_recount();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS customers_metadata_count_update ON customers_customer;
DROP TRIGGER IF EXISTS customers_metadata_count_insert_delete ON customers_customer;
DROP FUNCTION IF EXISTS customers_metadata_recount();
DROP FUNCTION IF EXISTS customers_metadata_count();
DROP FUNCTION IF EXISTS customers_metadata_token(jsonb);
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_postgres_search_indexes")]

    operations = [
        migrations.CreateModel(
            name="CustomerMetadataCount",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "organization_id",
                        "key",
                        "value",
                        "shard",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("key", models.TextField()),
                ("value", models.TextField()),
                ("shard", models.SmallIntegerField()),
                ("customers", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(_postgres(POSTGRES_UP), _postgres(POSTGRES_DOWN)),
    ]

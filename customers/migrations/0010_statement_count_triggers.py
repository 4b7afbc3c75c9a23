"""The counters' triggers on customers_customer fire once per statement for inserts and
metadata updates, over the statement's rows (transition tables), instead of once per row.

A row trigger moves a counter row per customer: an import's batch of 2,000 new customers
updated the same few counter rows thousands of times in one transaction, each update a new
version of the row for the next to step over; that was three quarters of the batch's
INSERT and UPDATE time. A statement trigger sums the batch first and moves each counter
row once, with the same shards and the same lock order. Deletes (one customer at a time)
and the updates of counts and days (deletion, moves: row triggers with column lists and
WHEN) keep their row triggers; PostgreSQL allows no column list on an UPDATE trigger with
transition tables, so the metadata trigger now sees every UPDATE of a customer and counts
the rows whose metadata, deletion or organization changed.
"""

from django.db import migrations

COUNTS_INSERT = """
CREATE OR REPLACE FUNCTION customers_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('customers.recounting', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO customers_customercount AS c (organization_id, shard, live, active)
    SELECT organization_id, pg_backend_pid() % 16, count(*),
           count(*) FILTER (WHERE active_subscriptions > 0)
    FROM new_rows WHERE deleted_at IS NULL
    GROUP BY organization_id
    ORDER BY organization_id
    ON CONFLICT (organization_id, shard)
    DO UPDATE SET live = c.live + EXCLUDED.live, active = c.active + EXCLUDED.active;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION customers_day_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers_customerdaycount AS c (organization_id, day, shard, customers)
    SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16,
           count(*)
    FROM new_rows WHERE deleted_at IS NULL
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (organization_id, day, shard)
    DO UPDATE SET customers = c.customers + EXCLUDED.customers;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION customers_metadata_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers_customermetadatacount AS counter
        (organization_id, key, value, shard, customers)
    SELECT n.organization_id, e.key, customers_metadata_token(e.value),
           pg_backend_pid() % 16, count(*)
    FROM new_rows n, jsonb_each(n.metadata) e
    WHERE n.deleted_at IS NULL
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3  -- one lock order for every writer
    ON CONFLICT (organization_id, key, value, shard)
    DO UPDATE SET customers = counter.customers + EXCLUDED.customers;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION customers_metadata_count_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers_customermetadatacount AS counter
        (organization_id, key, value, shard, customers)
    SELECT organization_id, key, value, pg_backend_pid() % 16, sum(change)
    FROM (
        SELECT o.organization_id, e.key, customers_metadata_token(e.value) AS value,
               -1 AS change
        FROM old_rows o JOIN new_rows n ON n.id = o.id, jsonb_each(o.metadata) e
        WHERE o.deleted_at IS NULL
          AND (o.metadata IS DISTINCT FROM n.metadata
               OR o.deleted_at IS DISTINCT FROM n.deleted_at
               OR o.organization_id IS DISTINCT FROM n.organization_id)
        UNION ALL
        SELECT n.organization_id, e.key, customers_metadata_token(e.value), 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id, jsonb_each(n.metadata) e
        WHERE n.deleted_at IS NULL
          AND (o.metadata IS DISTINCT FROM n.metadata
               OR o.deleted_at IS DISTINCT FROM n.deleted_at
               OR o.organization_id IS DISTINCT FROM n.organization_id)
    ) changes
    GROUP BY organization_id, key, value
    HAVING sum(change) <> 0
    ORDER BY organization_id, key, value  -- one lock order for every writer
    ON CONFLICT (organization_id, key, value, shard)
    DO UPDATE SET customers = counter.customers + EXCLUDED.customers;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS customers_count_insert_delete ON customers_customer;
DROP TRIGGER IF EXISTS customers_day_count_insert_delete ON customers_customer;
DROP TRIGGER IF EXISTS customers_metadata_count_insert_delete ON customers_customer;
DROP TRIGGER IF EXISTS customers_metadata_count_update ON customers_customer;

CREATE TRIGGER customers_count_delete
    AFTER DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_count_change();
CREATE TRIGGER customers_day_count_delete
    AFTER DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_day_count_change();
CREATE TRIGGER customers_metadata_count_delete
    AFTER DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_metadata_count();

CREATE TRIGGER customers_count_insert
    AFTER INSERT ON customers_customer REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_count_insert();
CREATE TRIGGER customers_day_count_insert
    AFTER INSERT ON customers_customer REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_day_count_insert();
CREATE TRIGGER customers_metadata_count_insert
    AFTER INSERT ON customers_customer REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_metadata_count_insert();
CREATE TRIGGER customers_metadata_count_update
    AFTER UPDATE ON customers_customer REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_metadata_count_update();
"""

COUNTS_BACK = """
DROP TRIGGER IF EXISTS customers_metadata_count_update ON customers_customer;
DROP TRIGGER IF EXISTS customers_metadata_count_insert ON customers_customer;
DROP TRIGGER IF EXISTS customers_day_count_insert ON customers_customer;
DROP TRIGGER IF EXISTS customers_count_insert ON customers_customer;
DROP TRIGGER IF EXISTS customers_metadata_count_delete ON customers_customer;
DROP TRIGGER IF EXISTS customers_day_count_delete ON customers_customer;
DROP TRIGGER IF EXISTS customers_count_delete ON customers_customer;
DROP FUNCTION IF EXISTS customers_metadata_count_update();
DROP FUNCTION IF EXISTS customers_metadata_count_insert();
DROP FUNCTION IF EXISTS customers_day_count_insert();
DROP FUNCTION IF EXISTS customers_count_insert();

CREATE TRIGGER customers_count_insert_delete
    AFTER INSERT OR DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_count_change();
CREATE TRIGGER customers_day_count_insert_delete
    AFTER INSERT OR DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_day_count_change();
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
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_email_lookup_statistics")]

    operations = [migrations.RunPython(_postgres(COUNTS_INSERT), _postgres(COUNTS_BACK))]

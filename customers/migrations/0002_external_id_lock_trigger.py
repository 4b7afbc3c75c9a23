"""Refuse, in the database itself, any UPDATE that changes or clears a set external ID.

The ORM refuses first with a clear field error; this trigger also stops raw SQL and any
code path that bypasses the model. The one exception mirrors the domain rule: the UPDATE
that soft-deletes a customer may clear its external ID, freeing it for reuse.
"""

from django.db import migrations

MESSAGE = "Customer external ID cannot be updated."

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION customers_customer_external_id_lock() RETURNS trigger AS $$
BEGIN
    IF OLD.external_id IS NOT NULL
       AND NEW.external_id IS DISTINCT FROM OLD.external_id
       AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL) THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER customers_customer_external_id_lock
    BEFORE UPDATE OF external_id ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_customer_external_id_lock();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS customers_customer_external_id_lock ON customers_customer;
DROP FUNCTION IF EXISTS customers_customer_external_id_lock();
"""

SQLITE_UP = f"""
CREATE TRIGGER customers_customer_external_id_lock
BEFORE UPDATE OF external_id ON customers_customer
FOR EACH ROW
WHEN OLD.external_id IS NOT NULL
     AND NEW.external_id IS NOT OLD.external_id
     AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, '{MESSAGE}');
END;
"""

SQLITE_DOWN = "DROP TRIGGER IF EXISTS customers_customer_external_id_lock;"


def _run(sql_by_vendor):
    def run(apps, schema_editor):
        sql = sql_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        ),
    ]

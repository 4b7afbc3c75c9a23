"""Give `organizations_organization.webhooks_version` a new value whenever an endpoint is added,
removed, or changes what decides which events it records (its organization, events, URL,
secret, enabled, disabled_automatically), whoever writes: the service, the worker, the
admin or raw SQL. `webhooks.events.listeners` caches each organization's listeners per
process under that version, so a change made anywhere is seen by every process at its next
write. The failure bookkeeping the worker writes on every failed attempt moves nothing.

The new value is random (63 bits), not the old one plus one: a rolled-back change of an
endpoint could otherwise leave a number that a later change reuses, and a process that
saw the rolled-back change inside its own transaction would trust what it cached then.
"""

from django.db import migrations

WATCHED = ("organization_id", "url", "events", "secret", "enabled", "disabled_automatically")

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION webhooks_endpoint_bump_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE organizations_organization
        SET webhooks_version = (random() * 4611686018427387904)::bigint
        WHERE id = OLD.organization_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT'
            OR NEW.organization_id IS DISTINCT FROM OLD.organization_id) THEN
        UPDATE organizations_organization
        SET webhooks_version = (random() * 4611686018427387904)::bigint
        WHERE id = NEW.organization_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhooks_endpoint_version_insert_delete
    AFTER INSERT OR DELETE ON webhooks_webhookendpoint
    FOR EACH ROW EXECUTE FUNCTION webhooks_endpoint_bump_version();

CREATE TRIGGER webhooks_endpoint_version_update
    AFTER UPDATE ON webhooks_webhookendpoint
    FOR EACH ROW
    WHEN ({" OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)})
    EXECUTE FUNCTION webhooks_endpoint_bump_version();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS webhooks_endpoint_version_update ON webhooks_webhookendpoint;
DROP TRIGGER IF EXISTS webhooks_endpoint_version_insert_delete ON webhooks_webhookendpoint;
DROP FUNCTION IF EXISTS webhooks_endpoint_bump_version();
"""

_BUMP = "UPDATE organizations_organization SET webhooks_version = random()"

SQLITE_UP = [
    f"""CREATE TRIGGER webhooks_endpoint_version_insert
    AFTER INSERT ON webhooks_webhookendpoint FOR EACH ROW
    BEGIN {_BUMP} WHERE id = NEW.organization_id; END""",
    f"""CREATE TRIGGER webhooks_endpoint_version_delete
    AFTER DELETE ON webhooks_webhookendpoint FOR EACH ROW
    BEGIN {_BUMP} WHERE id = OLD.organization_id; END""",
    f"""CREATE TRIGGER webhooks_endpoint_version_update
    AFTER UPDATE ON webhooks_webhookendpoint FOR EACH ROW
    WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)}
    BEGIN
        {_BUMP} WHERE id = OLD.organization_id;
        {_BUMP} WHERE id = NEW.organization_id AND NEW.organization_id IS NOT OLD.organization_id;
    END""",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS webhooks_endpoint_version_insert",
    "DROP TRIGGER IF EXISTS webhooks_endpoint_version_delete",
    "DROP TRIGGER IF EXISTS webhooks_endpoint_version_update",
]


def _run(sql_by_vendor):
    def run(apps, schema_editor):
        sql = sql_by_vendor.get(schema_editor.connection.vendor, [])
        for statement in [sql] if isinstance(sql, str) else sql:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_endpoint_disabled_automatically"),
        ("organizations", "0003_webhooks_version"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        ),
    ]

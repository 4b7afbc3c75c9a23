"""PostgreSQL's JIT compiler off for the app's database (new sessions; replicas follow).

JIT compiles a statement whose estimated cost passes `jit_above_cost` (100,000 by default).
The app's statements are short, but a few have large estimates without being long: erasing
a customer's 10,000 timeline entries rewrites each diff in a subquery, and PostgreSQL 15
spent 0.6 s compiling that one UPDATE (inlining 0.1 s, optimization 0.33 s) to run it in
1.2 s. Per-database, so it holds through PgBouncer, for every process and for psql too.
Changing a database's settings needs its owner: without that right the migration says so
and goes on (`ALTER DATABASE ... SET jit = off` by the owner does the same).
"""

from django.db import migrations

FORWARD = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'JIT left as it is: only the owner of database % may turn it off',
        current_database();
END
$$;
"""

BACKWARD = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;
"""


def _forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)
        # This session too, so whatever runs next in it (seeding, tests) plans the same.
        schema_editor.execute("SET jit = off")


def _backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_outgoing_emails")]

    operations = [migrations.RunPython(_forward, _backward, elidable=False)]

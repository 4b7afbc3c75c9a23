"""Issue 18, duplicates and merges (PostgreSQL only; SQLite needs none of it):

- `customers_email_key(email)`, `customers_name_key(name)`, `customers_email_domain(email)`:
  the duplicates scan's normalisations (customers/duplicates.py has the same rules in
  Python, and a test holds the two side by side), IMMUTABLE so they can be indexed.
- Indexes on them per organization, live customers only, and on (organization,
  modified_at, id), the scan's watermark order; all built CONCURRENTLY, so a live table
  stays writable while they build.
- The list figures' row triggers on orders and subscriptions (0011) return at once while
  `customers.merging` is on: a merge moves a customer's 10,000 orders in one UPDATE and
  then recomputes both customers' figures once (customers/merging.py), where the row
  triggers would recount a customer's orders once per moved order.

pg_trgm (for the similar-names rule's `%` and `similarity()`) is enabled by 0003 already;
its `CREATE EXTENSION IF NOT EXISTS` is repeated here, but not undone on the way back
(TrigramExtension's reverse would DROP it, under 0003's search indexes).
"""

from django.db import migrations

PAID = "('paid', 'refunded', 'partially_refunded')"  # Order.PAID_STATUSES
ACTIVE = "('trialing', 'active', 'past_due')"  # Subscription.ACTIVE_STATUSES
# The gmail.com list is customers.duplicates.DOTLESS_DOMAINS.
FUNCTIONS_UP = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE OR REPLACE FUNCTION customers_email_key(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d IN ('gmail.com', 'googlemail.com')
                THEN replace(l, '.', '') || '@gmail.com'
                ELSE l || '@' || d END
    FROM (SELECT split_part(split_part(e, '@', 1), '+', 1) AS l,
                 substr(e, strpos(e, '@') + 1) AS d
          FROM (SELECT lower(btrim(email)) AS e) s) p
$$;

CREATE OR REPLACE FUNCTION customers_email_domain(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substr(lower(btrim(email)), strpos(lower(btrim(email)), '@') + 1)
$$;

CREATE OR REPLACE FUNCTION customers_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(lower(btrim(name)), '\\s+', ' ', 'g')
$$;
"""

FUNCTIONS_DOWN = """
DROP FUNCTION IF EXISTS customers_email_key(text);
DROP FUNCTION IF EXISTS customers_email_domain(text);
DROP FUNCTION IF EXISTS customers_name_key(text);
"""

GUARD = """IF current_setting('customers.merging', true) = 'on' THEN
        RETURN NULL;  -- the merge recomputes both customers' figures once, at its end
    END IF;
    """

FIGURE_TRIGGERS = """
CREATE OR REPLACE FUNCTION customers_order_figures_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was uuid; now_for uuid;
BEGIN
    {guard}IF TG_OP <> 'INSERT' AND OLD.status IN {paid} THEN
        was := OLD.customer_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN {paid} THEN
        now_for := NEW.customer_id;
    END IF;
    IF was IS NOT NULL AND now_for IS NOT NULL AND was <> now_for THEN
        PERFORM customers_order_figures_refresh(least(was, now_for));
        PERFORM customers_order_figures_refresh(greatest(was, now_for));
    ELSIF coalesce(was, now_for) IS NOT NULL THEN
        PERFORM customers_order_figures_refresh(coalesce(was, now_for));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION customers_subscription_figures_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was uuid; now_for uuid;
BEGIN
    {guard}IF TG_OP <> 'INSERT' AND OLD.status IN {active} THEN
        was := OLD.customer_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN {active} THEN
        now_for := NEW.customer_id;
    END IF;
    IF was IS NOT NULL AND now_for IS NOT NULL AND was <> now_for THEN
        PERFORM customers_subscription_figures_refresh(least(was, now_for));
        PERFORM customers_subscription_figures_refresh(greatest(was, now_for));
    ELSIF coalesce(was, now_for) IS NOT NULL THEN
        PERFORM customers_subscription_figures_refresh(coalesce(was, now_for));
    END IF;
    RETURN NULL;
END;
$$;
"""

INDEXES = {
    "customer_email_key": (
        "(organization_id, customers_email_key(email::text)) WHERE deleted_at IS NULL"
    ),
    "customer_name_key": (
        "(organization_id, customers_name_key(name::text)) "
        "WHERE deleted_at IS NULL AND name::text <> ''"
    ),
    "customer_email_domain": (
        "(organization_id, customers_email_domain(email::text)) WHERE deleted_at IS NULL"
    ),
    "customer_org_modified": "(organization_id, modified_at, id)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS_UP, params=None)
    schema_editor.execute(
        FIGURE_TRIGGERS.format(guard=GUARD, paid=PAID, active=ACTIVE), params=None
    )
    for name, definition in INDEXES.items():
        # IF NOT EXISTS: a build interrupted earlier leaves an invalid index of this name;
        # drop it by hand (DROP INDEX CONCURRENTLY) and migrate again.
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON customers_customer {definition}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute(FIGURE_TRIGGERS.format(guard="", paid=PAID, active=ACTIVE), params=None)
    schema_editor.execute(FUNCTIONS_DOWN, params=None)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("customers", "0014_merged_into_index")]

    operations = [migrations.RunPython(create, drop)]

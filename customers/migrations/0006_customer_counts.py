"""Counters of live and of active customers per organization, kept by PostgreSQL triggers
(see `CustomerCount`), so the API's unfiltered `total_count` and `active=true/false` read
16 rows at most instead of counting a million.

"Active" is "has a subscription in Subscription.ACTIVE_STATUSES". Each customer row keeps
how many it has (`active_subscriptions`, PostgreSQL only): the subscription trigger moves
it under the customer's row lock, so two subscriptions of one customer changing at once
still cross zero exactly once. The customer trigger then moves the organization's counts.
`customers_count_recount()` rebuilds both from the tables (here, and after seed_scale's
bulk load with the triggers off).
"""

from django.db import migrations, models

ACTIVE = "('trialing', 'active', 'past_due')"  # Subscription.ACTIVE_STATUSES

POSTGRES_UP = f"""
ALTER TABLE customers_customer
    ADD COLUMN IF NOT EXISTS active_subscriptions integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION customers_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_live int := 0; old_active int := 0; new_live int := 0; new_active int := 0;
BEGIN
    IF current_setting('customers.recounting', true) = 'on' THEN
        RETURN NULL;  -- customers_count_recount() rebuilds the counts itself
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        old_live := 1;
        old_active := (OLD.active_subscriptions > 0)::int;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
        new_live := 1;
        new_active := (NEW.active_subscriptions > 0)::int;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.organization_id IS DISTINCT FROM NEW.organization_id THEN
        -- Moved between organizations: out of one, into the other.
        INSERT INTO customers_customercount AS c (organization_id, shard, live, active)
        VALUES (OLD.organization_id, pg_backend_pid() % 16, -old_live, -old_active)
        ON CONFLICT (organization_id, shard)
        DO UPDATE SET live = c.live + EXCLUDED.live, active = c.active + EXCLUDED.active;
        old_live := 0; old_active := 0;
    END IF;
    IF new_live - old_live <> 0 OR new_active - old_active <> 0 THEN
        INSERT INTO customers_customercount AS c (organization_id, shard, live, active)
        VALUES (
            CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END,
            pg_backend_pid() % 16, new_live - old_live, new_active - old_active
        )
        ON CONFLICT (organization_id, shard)
        DO UPDATE SET live = c.live + EXCLUDED.live, active = c.active + EXCLUDED.active;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_count_insert_delete
    AFTER INSERT OR DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_count_change();

CREATE TRIGGER customers_count_update
    AFTER UPDATE OF deleted_at, organization_id, active_subscriptions ON customers_customer
    FOR EACH ROW
    WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR (OLD.active_subscriptions > 0) IS DISTINCT FROM (NEW.active_subscriptions > 0))
    EXECUTE FUNCTION customers_count_change();

CREATE OR REPLACE FUNCTION customers_active_subscriptions_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was int := 0; now_active int := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := (OLD.status IN {ACTIVE})::int;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        now_active := (NEW.status IN {ACTIVE})::int;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.customer_id IS DISTINCT FROM NEW.customer_id THEN
        UPDATE customers_customer SET active_subscriptions = active_subscriptions - was
        WHERE id = OLD.customer_id AND was <> 0;
        was := 0;
    END IF;
    IF now_active - was <> 0 THEN
        UPDATE customers_customer
        SET active_subscriptions = active_subscriptions + (now_active - was)
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.customer_id ELSE NEW.customer_id END;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orders_subscription_active_insert_delete
    AFTER INSERT OR DELETE ON orders_subscription
    FOR EACH ROW EXECUTE FUNCTION customers_active_subscriptions_change();

CREATE TRIGGER orders_subscription_active_update
    AFTER UPDATE OF status, customer_id ON orders_subscription
    FOR EACH ROW
    WHEN ((OLD.status IN {ACTIVE}) IS DISTINCT FROM (NEW.status IN {ACTIVE})
          OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION customers_active_subscriptions_change();

CREATE OR REPLACE FUNCTION customers_count_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait until the new counts commit, so none of their changes is lost.
    LOCK TABLE orders_subscription IN SHARE MODE;
    LOCK TABLE customers_customer IN SHARE MODE;
    -- The counts are rebuilt below: the customer trigger need not move them row by row
    -- (a flag for this transaction; ALTER TABLE would refuse with deferred checks pending).
    PERFORM set_config('customers.recounting', 'on', true);
    UPDATE customers_customer c SET active_subscriptions = 0
    WHERE c.active_subscriptions <> 0 AND NOT EXISTS (
        SELECT 1 FROM orders_subscription s
        WHERE s.customer_id = c.id AND s.status IN {ACTIVE}
    );
    UPDATE customers_customer c SET active_subscriptions = s.n
    FROM (
        SELECT customer_id, count(*) AS n FROM orders_subscription
        WHERE status IN {ACTIVE} GROUP BY customer_id
    ) s
    WHERE c.id = s.customer_id AND c.active_subscriptions <> s.n;
    PERFORM set_config('customers.recounting', 'off', true);
    DELETE FROM customers_customercount;
    INSERT INTO customers_customercount (organization_id, shard, live, active)
    SELECT organization_id, 0, count(*), count(*) FILTER (WHERE active_subscriptions > 0)
    FROM customers_customer WHERE deleted_at IS NULL
    GROUP BY organization_id;
END;
$$;

SELECT customers_count_recount();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS orders_subscription_active_update ON orders_subscription;
DROP TRIGGER IF EXISTS orders_subscription_active_insert_delete ON orders_subscription;
DROP TRIGGER IF EXISTS customers_count_update ON customers_customer;
DROP TRIGGER IF EXISTS customers_count_insert_delete ON customers_customer;
DROP FUNCTION IF EXISTS customers_count_recount();
DROP FUNCTION IF EXISTS customers_active_subscriptions_change();
DROP FUNCTION IF EXISTS customers_count_change();
ALTER TABLE customers_customer DROP COLUMN IF EXISTS active_subscriptions;
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_email_max_length_254"),
        ("orders", "0002_subscription_renewals"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerCount",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "organization_id",
                        "shard",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("shard", models.SmallIntegerField()),
                ("live", models.BigIntegerField()),
                ("active", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(_postgres(POSTGRES_UP), _postgres(POSTGRES_DOWN)),
    ]

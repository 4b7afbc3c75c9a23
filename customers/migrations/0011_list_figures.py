"""Each customer's lifetime revenue, MRR and last order, kept on its row by PostgreSQL
triggers, so the customer list can show them and sort by them (with the indexes of 0012)
at a million customers without reading any order.

Columns (PostgreSQL only, not model fields, read through `customers.querysets.KeptFigure`
so Django never writes them back from a stale instance, as `active_subscriptions` of 0006):
- `lifetime_revenue bigint`, `revenue_currency`: the sum of subtotal - discount - refunded
  over the customer's paid orders (Order.PAID_STATUSES) in the currency of its earliest
  paid order (by created_at, then id); orders in any other currency are left out (the
  customer page lists every currency). 0 and NULL without a paid order.
- `last_order_at timestamptz`: the newest paid order's created_at, NULL without one.
- `mrr bigint`, `mrr_currency`: the monthly amount (a yearly one / 12, integer division)
  summed over the subscriptions in Subscription.ACTIVE_STATUSES in the currency of the
  earliest of them.

The row triggers on orders_order and orders_subscription recompute the figures of the
customer(s) a change touches from that customer's own orders (or subscriptions), read
through the (customer, created_at) indexes: a currency rule is no sum of deltas. The
customer's row is locked first, in a statement of its own; the recount after it then takes
a fresh snapshot (READ COMMITTED, a volatile function), so it sees the orders of every
writer that held the lock before, and two orders of one customer written at once both
count. `customers_figures_recount()` rebuilds every customer's figures set-based (here,
and after seed_scale's bulk load with these triggers off).

The recount's UPDATE of up to every customer row fires the metadata counters' statement
trigger (0010) over transition tables of a million rows: at the benchmark's scale it read
their spilled files over and over for over 15 minutes (a plan plpgsql cached for a
statement of a few rows, by all signs). The figures change neither metadata nor deletion nor organization, so the recount
sets `customers.figures_recounting` for its transaction and that trigger returns at once
(its function is 0010's, with that guard first).
"""

from django.db import migrations

PAID = "('paid', 'refunded', 'partially_refunded')"  # Order.PAID_STATUSES
ACTIVE = "('trialing', 'active', 'past_due')"  # Subscription.ACTIVE_STATUSES
MONTHLY = "CASE WHEN s.recurring_interval = 'year' THEN s.amount / 12 ELSE s.amount END"

METADATA_COUNT_UPDATE = """
CREATE OR REPLACE FUNCTION customers_metadata_count_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {guard}INSERT INTO customers_customermetadatacount AS counter
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
"""
RECOUNT_GUARD = """IF current_setting('customers.figures_recounting', true) = 'on' THEN
        RETURN NULL;  -- customers_figures_recount() changes no metadata
    END IF;
    """

POSTGRES_UP = METADATA_COUNT_UPDATE.replace("{guard}", RECOUNT_GUARD) + f"""
ALTER TABLE customers_customer
    ADD COLUMN IF NOT EXISTS lifetime_revenue bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS revenue_currency varchar(3),
    ADD COLUMN IF NOT EXISTS last_order_at timestamptz,
    ADD COLUMN IF NOT EXISTS mrr bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS mrr_currency varchar(3);

CREATE OR REPLACE FUNCTION customers_order_figures_refresh(p_customer uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM customers_customer WHERE id = p_customer FOR UPDATE;
    UPDATE customers_customer c
    SET lifetime_revenue = f.revenue, revenue_currency = f.currency, last_order_at = f.last_at
    FROM (
        SELECT first.currency,
               COALESCE((
                   SELECT sum(o.subtotal_amount - o.discount_amount - o.refunded_amount)
                   FROM orders_order o
                   WHERE o.customer_id = p_customer AND o.status IN {PAID}
                     AND o.currency = first.currency
               ), 0)::bigint AS revenue,
               (SELECT max(o.created_at) FROM orders_order o
                WHERE o.customer_id = p_customer AND o.status IN {PAID}) AS last_at
        FROM (
            SELECT (SELECT o.currency FROM orders_order o
                    WHERE o.customer_id = p_customer AND o.status IN {PAID}
                    ORDER BY o.created_at, o.id LIMIT 1) AS currency
        ) first
    ) f
    WHERE c.id = p_customer
      AND (c.lifetime_revenue, c.revenue_currency, c.last_order_at)
          IS DISTINCT FROM (f.revenue, f.currency, f.last_at);
END;
$$;

CREATE OR REPLACE FUNCTION customers_subscription_figures_refresh(p_customer uuid)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM customers_customer WHERE id = p_customer FOR UPDATE;
    UPDATE customers_customer c
    SET mrr = f.mrr, mrr_currency = f.currency
    FROM (
        SELECT first.currency,
               COALESCE((
                   SELECT sum({MONTHLY}) FROM orders_subscription s
                   WHERE s.customer_id = p_customer AND s.status IN {ACTIVE}
                     AND s.currency = first.currency
               ), 0)::bigint AS mrr
        FROM (
            SELECT (SELECT s.currency FROM orders_subscription s
                    WHERE s.customer_id = p_customer AND s.status IN {ACTIVE}
                    ORDER BY s.created_at, s.id LIMIT 1) AS currency
        ) first
    ) f
    WHERE c.id = p_customer
      AND (c.mrr, c.mrr_currency) IS DISTINCT FROM (f.mrr, f.currency);
END;
$$;

-- The customers a change of an order touches: the old one if the order counted before,
-- the new one if it counts now; both (in ID order, one lock order for every writer) when
-- it moved between customers.
CREATE OR REPLACE FUNCTION customers_order_figures_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was uuid; now_for uuid;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN {PAID} THEN
        was := OLD.customer_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN {PAID} THEN
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
    IF TG_OP <> 'INSERT' AND OLD.status IN {ACTIVE} THEN
        was := OLD.customer_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN {ACTIVE} THEN
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

CREATE TRIGGER orders_order_figures_insert_delete
    AFTER INSERT OR DELETE ON orders_order
    FOR EACH ROW EXECUTE FUNCTION customers_order_figures_change();

CREATE TRIGGER orders_order_figures_update
    AFTER UPDATE OF status, subtotal_amount, discount_amount, refunded_amount, currency,
        customer_id, created_at ON orders_order
    FOR EACH ROW
    WHEN ((OLD.status IN {PAID}) IS DISTINCT FROM (NEW.status IN {PAID})
          OR OLD.customer_id IS DISTINCT FROM NEW.customer_id
          OR (NEW.status IN {PAID}
              AND (OLD.subtotal_amount, OLD.discount_amount, OLD.refunded_amount,
                   OLD.currency, OLD.created_at)
                  IS DISTINCT FROM (NEW.subtotal_amount, NEW.discount_amount,
                                    NEW.refunded_amount, NEW.currency, NEW.created_at)))
    EXECUTE FUNCTION customers_order_figures_change();

CREATE TRIGGER orders_subscription_figures_insert_delete
    AFTER INSERT OR DELETE ON orders_subscription
    FOR EACH ROW EXECUTE FUNCTION customers_subscription_figures_change();

CREATE TRIGGER orders_subscription_figures_update
    AFTER UPDATE OF status, amount, recurring_interval, currency, customer_id, created_at
    ON orders_subscription
    FOR EACH ROW
    WHEN ((OLD.status IN {ACTIVE}) IS DISTINCT FROM (NEW.status IN {ACTIVE})
          OR OLD.customer_id IS DISTINCT FROM NEW.customer_id
          OR (NEW.status IN {ACTIVE}
              AND (OLD.amount, OLD.recurring_interval, OLD.currency, OLD.created_at)
                  IS DISTINCT FROM (NEW.amount, NEW.recurring_interval, NEW.currency,
                                    NEW.created_at)))
    EXECUTE FUNCTION customers_subscription_figures_change();

CREATE OR REPLACE FUNCTION customers_figures_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers wait until the rebuilt figures commit, so none of their changes is lost.
    LOCK TABLE orders_order IN SHARE MODE;
    LOCK TABLE orders_subscription IN SHARE MODE;
    -- One pass over the paid orders in (customer, created_at, id) order: the first one's
    -- currency, the sum in it and the newest order, per customer.
    CREATE TEMP TABLE customers_figures_revenue ON COMMIT DROP AS
    SELECT customer_id, min(first_currency) AS currency,
           COALESCE(sum(net) FILTER (WHERE currency = first_currency), 0)::bigint AS revenue,
           max(created_at) AS last_at
    FROM (
        SELECT customer_id, currency, created_at,
               subtotal_amount - discount_amount - refunded_amount AS net,
               first_value(currency) OVER (
                   PARTITION BY customer_id ORDER BY created_at, id
               ) AS first_currency
        FROM orders_order WHERE status IN {PAID}
    ) o
    GROUP BY customer_id;
    CREATE TEMP TABLE customers_figures_mrr ON COMMIT DROP AS
    SELECT customer_id, min(first_currency) AS currency,
           COALESCE(sum(monthly) FILTER (WHERE currency = first_currency), 0)::bigint AS mrr
    FROM (
        SELECT s.customer_id, s.currency, {MONTHLY} AS monthly,
               first_value(s.currency) OVER (
                   PARTITION BY s.customer_id ORDER BY s.created_at, s.id
               ) AS first_currency
        FROM orders_subscription s WHERE s.status IN {ACTIVE}
    ) s
    GROUP BY customer_id;
    ANALYZE customers_figures_revenue;
    ANALYZE customers_figures_mrr;
    PERFORM set_config('customers.figures_recounting', 'on', true);

    UPDATE customers_customer c
    SET lifetime_revenue = 0, revenue_currency = NULL, last_order_at = NULL
    WHERE (c.lifetime_revenue <> 0 OR c.revenue_currency IS NOT NULL
           OR c.last_order_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM customers_figures_revenue r WHERE r.customer_id = c.id);
    UPDATE customers_customer c
    SET lifetime_revenue = r.revenue, revenue_currency = r.currency, last_order_at = r.last_at
    FROM customers_figures_revenue r
    WHERE c.id = r.customer_id
      AND (c.lifetime_revenue, c.revenue_currency, c.last_order_at)
          IS DISTINCT FROM (r.revenue, r.currency, r.last_at);
    UPDATE customers_customer c
    SET mrr = 0, mrr_currency = NULL
    WHERE (c.mrr <> 0 OR c.mrr_currency IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM customers_figures_mrr m WHERE m.customer_id = c.id);
    UPDATE customers_customer c
    SET mrr = m.mrr, mrr_currency = m.currency
    FROM customers_figures_mrr m
    WHERE c.id = m.customer_id
      AND (c.mrr, c.mrr_currency) IS DISTINCT FROM (m.mrr, m.currency);
    PERFORM set_config('customers.figures_recounting', 'off', true);
    DROP TABLE customers_figures_revenue;
    DROP TABLE customers_figures_mrr;
END;
$$;

SELECT customers_figures_recount();
"""

POSTGRES_DOWN = METADATA_COUNT_UPDATE.replace("{guard}", "") + """
DROP TRIGGER IF EXISTS orders_subscription_figures_update ON orders_subscription;
DROP TRIGGER IF EXISTS orders_subscription_figures_insert_delete ON orders_subscription;
DROP TRIGGER IF EXISTS orders_order_figures_update ON orders_order;
DROP TRIGGER IF EXISTS orders_order_figures_insert_delete ON orders_order;
DROP FUNCTION IF EXISTS customers_figures_recount();
DROP FUNCTION IF EXISTS customers_subscription_figures_change();
DROP FUNCTION IF EXISTS customers_order_figures_change();
DROP FUNCTION IF EXISTS customers_subscription_figures_refresh(uuid);
DROP FUNCTION IF EXISTS customers_order_figures_refresh(uuid);
ALTER TABLE customers_customer
    DROP COLUMN IF EXISTS lifetime_revenue,
    DROP COLUMN IF EXISTS revenue_currency,
    DROP COLUMN IF EXISTS last_order_at,
    DROP COLUMN IF EXISTS mrr,
    DROP COLUMN IF EXISTS mrr_currency;
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_statement_count_triggers"),
        ("orders", "0004_subscription_due_indexes"),
    ]

    operations = [migrations.RunPython(_postgres(POSTGRES_UP), _postgres(POSTGRES_DOWN))]

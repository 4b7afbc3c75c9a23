"""The triggers that keep the daily figures (analytics.models), PostgreSQL only, and
`analytics_rebuild(org)`, which recomputes them from the tables (all organizations with
NULL). Each row trigger takes out the old row's contribution and adds the new one's, so
inserts, updates and deletes all move the figures exactly; customers' inserts (an import's
batches) are summed once per statement. A day is the organization's, in its timezone.
"""

from django.db import migrations

PAID = "('paid', 'refunded', 'partially_refunded')"  # Order.PAID_STATUSES

UP = f"""
CREATE OR REPLACE FUNCTION analytics_day(org uuid, at timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (at AT TIME ZONE (SELECT timezone FROM organizations_organization WHERE id = org))::date
$$;

CREATE OR REPLACE FUNCTION analytics_order_add(r orders_order, sign int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF r.status NOT IN {PAID} THEN
        RETURN;
    END IF;
    INSERT INTO analytics_dailyorderfigures AS f
        (organization_id, day, product_id, currency, billing_reason, orders, revenue, refunded)
    VALUES (r.organization_id, analytics_day(r.organization_id, r.created_at), r.product_id,
            r.currency, r.billing_reason, sign,
            sign * (r.subtotal_amount - r.discount_amount), sign * r.refunded_amount)
    ON CONFLICT (organization_id, day, product_id, currency, billing_reason)
    DO UPDATE SET orders = f.orders + EXCLUDED.orders, revenue = f.revenue + EXCLUDED.revenue,
                  refunded = f.refunded + EXCLUDED.refunded;
END;
$$;

CREATE OR REPLACE FUNCTION analytics_order_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_order_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM analytics_order_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_order_insert_delete AFTER INSERT OR DELETE ON orders_order
    FOR EACH ROW EXECUTE FUNCTION analytics_order_change();
CREATE TRIGGER analytics_order_update
    AFTER UPDATE OF status, subtotal_amount, discount_amount, refunded_amount, currency,
                    product_id, billing_reason, created_at, organization_id ON orders_order
    FOR EACH ROW
    WHEN ((OLD.status, OLD.subtotal_amount, OLD.discount_amount, OLD.refunded_amount,
           OLD.currency, OLD.product_id, OLD.billing_reason, OLD.created_at,
           OLD.organization_id)
          IS DISTINCT FROM
          (NEW.status, NEW.subtotal_amount, NEW.discount_amount, NEW.refunded_amount,
           NEW.currency, NEW.product_id, NEW.billing_reason, NEW.created_at,
           NEW.organization_id))
    EXECUTE FUNCTION analytics_order_change();

CREATE OR REPLACE FUNCTION analytics_subscription_upsert(
    r orders_subscription, at timestamptz, started int, started_mrr bigint, ended int,
    ended_mrr bigint, canceled int
) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_dailysubscriptionfigures AS f
        (organization_id, day, product_id, currency, started, started_mrr, ended, ended_mrr,
         canceled)
    VALUES (r.organization_id, analytics_day(r.organization_id, at), r.product_id, r.currency,
            started, started_mrr, ended, ended_mrr, canceled)
    ON CONFLICT (organization_id, day, product_id, currency)
    DO UPDATE SET started = f.started + EXCLUDED.started,
                  started_mrr = f.started_mrr + EXCLUDED.started_mrr,
                  ended = f.ended + EXCLUDED.ended, ended_mrr = f.ended_mrr + EXCLUDED.ended_mrr,
                  canceled = f.canceled + EXCLUDED.canceled;
$$;

CREATE OR REPLACE FUNCTION analytics_subscription_add(r orders_subscription, sign int)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    mrr bigint := CASE WHEN r.recurring_interval = 'year' THEN r.amount / 12 ELSE r.amount END;
BEGIN
    IF r.started_at IS NULL THEN
        RETURN;  -- never started: never active, never churned
    END IF;
    PERFORM analytics_subscription_upsert(r, r.started_at, sign, sign * mrr, 0, 0, 0);
    IF r.ended_at IS NOT NULL THEN
        PERFORM analytics_subscription_upsert(r, r.ended_at, 0, 0, sign, sign * mrr, 0);
    END IF;
    IF r.canceled_at IS NOT NULL THEN
        PERFORM analytics_subscription_upsert(r, r.canceled_at, 0, 0, 0, 0, sign);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION analytics_subscription_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_subscription_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM analytics_subscription_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_subscription_insert_delete
    AFTER INSERT OR DELETE ON orders_subscription
    FOR EACH ROW EXECUTE FUNCTION analytics_subscription_change();
CREATE TRIGGER analytics_subscription_update
    AFTER UPDATE OF started_at, ended_at, canceled_at, amount, recurring_interval, currency,
                    product_id, organization_id ON orders_subscription
    FOR EACH ROW
    WHEN ((OLD.started_at, OLD.ended_at, OLD.canceled_at, OLD.amount, OLD.recurring_interval,
           OLD.currency, OLD.product_id, OLD.organization_id)
          IS DISTINCT FROM
          (NEW.started_at, NEW.ended_at, NEW.canceled_at, NEW.amount, NEW.recurring_interval,
           NEW.currency, NEW.product_id, NEW.organization_id))
    EXECUTE FUNCTION analytics_subscription_change();

CREATE OR REPLACE FUNCTION analytics_checkout_add(r checkouts_checkout, sign int)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_dailycheckoutfigures AS f
        (organization_id, day, product_id, recurring, checkouts, succeeded)
    SELECT r.organization_id, analytics_day(r.organization_id, r.created_at), r.product_id,
           p.recurring_interval IS NOT NULL, sign,
           CASE WHEN r.status = 'succeeded' THEN sign ELSE 0 END
    FROM orders_product p WHERE p.id = r.product_id
    ON CONFLICT (organization_id, day, product_id)
    DO UPDATE SET checkouts = f.checkouts + EXCLUDED.checkouts,
                  succeeded = f.succeeded + EXCLUDED.succeeded;
$$;

CREATE OR REPLACE FUNCTION analytics_checkout_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_checkout_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM analytics_checkout_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_checkout_insert_delete AFTER INSERT OR DELETE ON checkouts_checkout
    FOR EACH ROW EXECUTE FUNCTION analytics_checkout_change();
CREATE TRIGGER analytics_checkout_update
    AFTER UPDATE OF status, created_at, product_id, organization_id ON checkouts_checkout
    FOR EACH ROW
    WHEN ((OLD.status, OLD.created_at, OLD.product_id, OLD.organization_id)
          IS DISTINCT FROM (NEW.status, NEW.created_at, NEW.product_id, NEW.organization_id))
    EXECUTE FUNCTION analytics_checkout_change();

CREATE OR REPLACE FUNCTION analytics_customer_add(org uuid, at timestamptz, n bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_dailycustomerfigures AS f (organization_id, day, customers)
    VALUES (org, analytics_day(org, at), n)
    ON CONFLICT (organization_id, day) DO UPDATE SET customers = f.customers + EXCLUDED.customers;
$$;

CREATE OR REPLACE FUNCTION analytics_customer_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An import's batch at once: each (organization, day) moves once.
    INSERT INTO analytics_dailycustomerfigures AS f (organization_id, day, customers)
    SELECT organization_id, analytics_day(organization_id, created_at), count(*)
    FROM new_rows WHERE deleted_at IS NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (organization_id, day) DO UPDATE SET customers = f.customers + EXCLUDED.customers;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION analytics_customer_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
        PERFORM analytics_customer_add(OLD.organization_id, OLD.created_at, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
        PERFORM analytics_customer_add(NEW.organization_id, NEW.created_at, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_customer_insert AFTER INSERT ON customers_customer
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_customer_insert();
CREATE TRIGGER analytics_customer_delete AFTER DELETE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION analytics_customer_change();
CREATE TRIGGER analytics_customer_update
    AFTER UPDATE OF deleted_at, created_at, organization_id ON customers_customer
    FOR EACH ROW
    WHEN ((OLD.deleted_at IS NULL, OLD.created_at, OLD.organization_id)
          IS DISTINCT FROM (NEW.deleted_at IS NULL, NEW.created_at, NEW.organization_id))
    EXECUTE FUNCTION analytics_customer_change();

-- Recompute every figure of one organization (all of them with NULL) from the tables,
-- with the writers of those tables held off meanwhile (SHARE locks), so no change made
-- during the rebuild is counted twice or lost.
CREATE OR REPLACE FUNCTION analytics_rebuild(org uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE orders_order, orders_subscription, checkouts_checkout, customers_customer
        IN SHARE MODE;
    DELETE FROM analytics_dailyorderfigures WHERE org IS NULL OR organization_id = org;
    DELETE FROM analytics_dailysubscriptionfigures WHERE org IS NULL OR organization_id = org;
    DELETE FROM analytics_dailycheckoutfigures WHERE org IS NULL OR organization_id = org;
    DELETE FROM analytics_dailycustomerfigures WHERE org IS NULL OR organization_id = org;

    INSERT INTO analytics_dailyorderfigures
        (organization_id, day, product_id, currency, billing_reason, orders, revenue, refunded)
    SELECT o.organization_id, (o.created_at AT TIME ZONE g.timezone)::date, o.product_id,
           o.currency, o.billing_reason, count(*),
           sum(o.subtotal_amount - o.discount_amount), sum(o.refunded_amount)
    FROM orders_order o JOIN organizations_organization g ON g.id = o.organization_id
    WHERE (org IS NULL OR o.organization_id = org) AND o.status IN {PAID}
    GROUP BY 1, 2, 3, 4, 5;

    INSERT INTO analytics_dailysubscriptionfigures
        (organization_id, day, product_id, currency, started, started_mrr, ended, ended_mrr,
         canceled)
    SELECT organization_id, day, product_id, currency, sum(started), sum(started_mrr),
           sum(ended), sum(ended_mrr), sum(canceled)
    FROM (
        SELECT s.organization_id, s.product_id, s.currency, e.at, e.started, e.ended,
               e.canceled,
               (e.at AT TIME ZONE g.timezone)::date AS day,
               CASE WHEN s.recurring_interval = 'year' THEN s.amount / 12 ELSE s.amount END
                   AS mrr
        FROM orders_subscription s
        JOIN organizations_organization g ON g.id = s.organization_id
        CROSS JOIN LATERAL (VALUES (s.started_at, 1, 0, 0), (s.ended_at, 0, 1, 0),
                                   (s.canceled_at, 0, 0, 1)) AS e (at, started, ended, canceled)
        WHERE (org IS NULL OR s.organization_id = org) AND s.started_at IS NOT NULL
          AND e.at IS NOT NULL
    ) events
    CROSS JOIN LATERAL (SELECT started * mrr AS started_mrr, ended * mrr AS ended_mrr) m
    GROUP BY organization_id, day, product_id, currency;

    INSERT INTO analytics_dailycheckoutfigures
        (organization_id, day, product_id, recurring, checkouts, succeeded)
    SELECT c.organization_id, (c.created_at AT TIME ZONE g.timezone)::date, c.product_id,
           bool_or(p.recurring_interval IS NOT NULL), count(*),
           count(*) FILTER (WHERE c.status = 'succeeded')
    FROM checkouts_checkout c
    JOIN organizations_organization g ON g.id = c.organization_id
    JOIN orders_product p ON p.id = c.product_id
    WHERE org IS NULL OR c.organization_id = org
    GROUP BY 1, 2, 3;

    INSERT INTO analytics_dailycustomerfigures (organization_id, day, customers)
    SELECT c.organization_id, (c.created_at AT TIME ZONE g.timezone)::date, count(*)
    FROM customers_customer c JOIN organizations_organization g ON g.id = c.organization_id
    WHERE (org IS NULL OR c.organization_id = org) AND c.deleted_at IS NULL
    GROUP BY 1, 2;
END;
$$;

-- An organization's days move with its timezone: its figures are cut again.
CREATE OR REPLACE FUNCTION analytics_organization_timezone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_rebuild(NEW.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER analytics_organization_timezone
    AFTER UPDATE OF timezone ON organizations_organization
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION analytics_organization_timezone();

SELECT analytics_rebuild(NULL);
"""

DOWN = """
DROP TRIGGER IF EXISTS analytics_organization_timezone ON organizations_organization;
DROP FUNCTION IF EXISTS analytics_organization_timezone();
DROP TRIGGER IF EXISTS analytics_order_insert_delete ON orders_order;
DROP TRIGGER IF EXISTS analytics_order_update ON orders_order;
DROP TRIGGER IF EXISTS analytics_subscription_insert_delete ON orders_subscription;
DROP TRIGGER IF EXISTS analytics_subscription_update ON orders_subscription;
DROP TRIGGER IF EXISTS analytics_checkout_insert_delete ON checkouts_checkout;
DROP TRIGGER IF EXISTS analytics_checkout_update ON checkouts_checkout;
DROP TRIGGER IF EXISTS analytics_customer_insert ON customers_customer;
DROP TRIGGER IF EXISTS analytics_customer_delete ON customers_customer;
DROP TRIGGER IF EXISTS analytics_customer_update ON customers_customer;
DROP FUNCTION IF EXISTS analytics_rebuild(uuid);
DROP FUNCTION IF EXISTS analytics_customer_change();
DROP FUNCTION IF EXISTS analytics_customer_insert();
DROP FUNCTION IF EXISTS analytics_customer_add(uuid, timestamptz, bigint);
DROP FUNCTION IF EXISTS analytics_checkout_change();
DROP FUNCTION IF EXISTS analytics_checkout_add(checkouts_checkout, int);
DROP FUNCTION IF EXISTS analytics_subscription_change();
DROP FUNCTION IF EXISTS analytics_subscription_add(orders_subscription, int);
DROP FUNCTION IF EXISTS analytics_subscription_upsert(
    orders_subscription, timestamptz, int, bigint, int, bigint, int);
DROP FUNCTION IF EXISTS analytics_order_change();
DROP FUNCTION IF EXISTS analytics_order_add(orders_order, int);
DROP FUNCTION IF EXISTS analytics_day(uuid, timestamptz);
"""


def _postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_daily_figures"),
        ("organizations", "0005_analytics_settings"),
        ("orders", "0004_subscription_due_indexes"),
        ("checkouts", "0004_billing_country_iso"),
        ("customers", "0010_statement_count_triggers"),
    ]

    operations = [migrations.RunPython(_postgres(UP), _postgres(DOWN))]

"""Scale data for benchmarks: one large organization (slug "scale") and a few small ones,
loaded with PostgreSQL's COPY. 1M customers with 3M orders take a few minutes on 2 cores.

The data is generated, never real: the command refuses a database holding anything else
(unless --force), and running it again with the data present reuses it.
"""

import io
import json
import random
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from activity.models import Entry
from customers.models import Customer
from orders.models import Product, add_interval
from organizations.models import Membership, Organization

SCALE_SLUG = "scale"
SMALL_PREFIX = "scale-small-"
BENCH_USER = ("bench", "bench-password-2026")
FIRST = "Ada Alan Grace Linus Ken Barbara Dennis Frances Guido Radia Hedy Tim Mary Edsger".split()
LAST = "Lovelace Turing Hopper Torvalds Thompson Liskov Ritchie Allen Perlman Lamarr Lee".split()
PLANS = ["free", "pro", "team", "enterprise"]
REGIONS = ["eu", "us", "apac", "latam"]
HEAVY_CUSTOMER_ORDERS = 1000  # user0 gets this many, for the detail-page benchmark
# user0's timeline gets this many entries (its orders' among them), for the timeline's.
HEAVY_CUSTOMER_ENTRIES = 10_000
CHUNK = 50_000
# The counters' insert triggers (migrations customers 0004, 0006, 0008 and 0010), and the
# list figures' (0011: each order and subscription would recompute its customer's), by table.
COUNT_TRIGGERS = [
    ("customers_customer", "customers_metadata_count_insert"),
    ("customers_customer", "customers_count_insert"),
    ("customers_customer", "customers_day_count_insert"),
    ("orders_subscription", "orders_subscription_active_insert_delete"),
    ("orders_subscription", "orders_subscription_figures_insert_delete"),
    ("orders_order", "orders_order_figures_insert_delete"),
    # The analytics daily figures (analytics migration 0002): rebuilt in one pass below.
    ("customers_customer", "analytics_customer_insert"),
    ("orders_subscription", "analytics_subscription_insert_delete"),
    ("orders_order", "analytics_order_insert_delete"),
    ("checkouts_checkout", "analytics_checkout_insert_delete"),
]


class Command(BaseCommand):
    help = "Fill PostgreSQL with generated scale data (COPY) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--orders-per-customer", type=int, default=3)
        parser.add_argument("--subscription-share", type=float, default=0.3)
        parser.add_argument("--metadata-keys", type=int, default=5, choices=range(0, 6))
        parser.add_argument("--other-organizations", type=int, default=5)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--force", action="store_true", help="Run even if the database holds other data."
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("seed_scale needs PostgreSQL (it loads with COPY).")
        others = Organization.objects.exclude(slug=SCALE_SLUG).exclude(
            slug__startswith=SMALL_PREFIX
        )
        if others.exists() and not options["force"]:
            raise CommandError(
                "This database holds organizations that seed_scale did not generate; "
                "refusing to mix benchmark data in. Use a fresh database, or --force."
            )
        existing = Organization.objects.filter(slug=SCALE_SLUG).first()
        if existing is not None:
            count = Customer.objects.filter(organization=existing).count()
            if count >= options["customers"]:
                self.stdout.write(f"Reusing the scale data: {count:,} customers.")
                self._ensure_user(existing)
                if not Entry.objects.filter(organization=existing).exists():
                    # Data seeded before the timeline existed: add its history now.
                    self._seed_timeline(existing)
                return
            raise CommandError(
                f"Scale data with {count:,} customers exists; drop the database to reseed."
            )
        self.rng = random.Random(options["seed"])
        started = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            # The metadata counters' row trigger would double the load time: off for the
            # COPY (in this transaction only), then every counter rebuilt in one pass.
            for table, trigger in COUNT_TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            big = Organization.objects.create(name="Scale test", slug=SCALE_SLUG)
            self._ensure_user(big)
            self._seed_org(big, options["customers"], options, heavy=True)
            for i in range(options["other_organizations"]):
                small = Organization.objects.create(name=f"Small {i}", slug=f"{SMALL_PREFIX}{i}")
                self._seed_org(small, 1000, options, heavy=False)
            self._seed_timeline(big, transactional=True)
            # The recounts below join tables this transaction filled: without statistics
            # (autovacuum cannot see uncommitted rows) the planner takes them for empty
            # and nests loops over millions of rows (hours, not seconds). ANALYZE inside
            # the transaction samples its own rows.
            cursor.execute("ANALYZE")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER refuses pending checks
            for table, trigger in COUNT_TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SELECT customers_metadata_recount()")
            # The count recount's UPDATE of every customer with a subscription fires the
            # metadata counters' statement trigger (0010) over transition tables of
            # hundreds of thousands of rows, which it reads over and over (hours); it
            # changes no metadata, and the figures recount's flag makes that trigger
            # return at once (customers 0011).
            cursor.execute("SELECT set_config('customers.figures_recounting', 'on', true)")
            cursor.execute("SELECT customers_count_recount()")
            cursor.execute("SELECT set_config('customers.figures_recounting', 'off', true)")
            cursor.execute("SELECT customers_day_recount()")
            cursor.execute("SELECT customers_figures_recount()")  # set-based, one pass
            cursor.execute("SELECT analytics_rebuild(NULL)")
        with connection.cursor() as cursor:
            for table in (
                "customers_customer",
                "customers_customermetadatacount",
                "customers_customercount",
                "orders_order",
                "orders_subscription",
            ):
                cursor.execute(f"ANALYZE {table}")
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.monotonic() - started:.0f} s."))

    def _seed_timeline(self, organization, *, transactional: bool = False) -> None:
        """The history the generated data implies, as timeline entries, written by
        PostgreSQL itself (INSERT ... SELECT): each customer's creation by the API, a
        metadata change a day later by a member or the API, each order created and paid
        by its buyer, each subscription's start, the customer.created webhook's delivery;
        and user0, the heavy customer, gets metadata changes up to HEAVY_CUSTOMER_ENTRIES
        entries. About ten entries per customer: 10M for the million."""
        started = time.monotonic()
        user = get_user_model().objects.get(username=BENCH_USER[0])
        org = organization.pk
        columns = (
            "id, organization_id, customer_id, created_at, type, actor_type, actor_id, "
            "actor_name, source, request_id, subject_id, changes"
        )
        token = "'token', 'bench-token', 'Backend sync', 'api'"
        member = f"'user', '{user.pk}', 'Bench Owner', 'dashboard'"
        statements = [
            # Each customer's creation, by the merchant's backend.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), c.organization_id, c.id, c.created_at, 'customer.created',
                {token}, md5(c.id::text), NULL,
                jsonb_build_object('email', jsonb_build_array(NULL, c.email),
                                   'external_id', jsonb_build_array(NULL, c.external_id))
            FROM customers_customer c WHERE c.organization_id = %(org)s""",
            # A metadata change a day later: one in three from the dashboard.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), c.organization_id, c.id, c.created_at + interval '1 day',
                'customer.updated',
                CASE WHEN right(c.external_id, 1) IN ('0', '3', '6') THEN 'user' ELSE 'token' END,
                CASE WHEN right(c.external_id, 1) IN ('0', '3', '6') THEN '{user.pk}'
                     ELSE 'bench-token' END,
                CASE WHEN right(c.external_id, 1) IN ('0', '3', '6') THEN 'Bench Owner'
                     ELSE 'Backend sync' END,
                CASE WHEN right(c.external_id, 1) IN ('0', '3', '6') THEN 'dashboard'
                     ELSE 'api' END,
                md5(c.id::text || 'u'), NULL,
                jsonb_build_object('metadata.plan',
                                   jsonb_build_array('free', c.metadata -> 'plan'))
            FROM customers_customer c WHERE c.organization_id = %(org)s""",
            # The customer.created webhook's delivery to the merchant's endpoint.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), c.organization_id, c.id, c.created_at + interval '2 s',
                'webhook.delivery', 'system', '', 'System', 'system', '', gen_random_uuid(),
                jsonb_build_object(
                    'event', jsonb_build_array(NULL, 'customer.created'),
                    'endpoint', jsonb_build_array(NULL, 'https://hooks.example.com/polar'),
                    'status', jsonb_build_array('pending', 'succeeded'),
                    'attempts', jsonb_build_array(0, 1),
                    'response_status', jsonb_build_array(NULL, 200))
            FROM customers_customer c WHERE c.organization_id = %(org)s""",
            # Each order, created and paid by its buyer at checkout.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), o.organization_id, o.customer_id, o.created_at, t.type,
                'buyer', '', '', 'checkout', md5(o.id::text), o.id,
                CASE WHEN t.type = 'order.created'
                     THEN jsonb_build_object('status', jsonb_build_array(NULL, 'paid'))
                     ELSE '{{}}'::jsonb END
            FROM orders_order o CROSS JOIN (VALUES ('order.created'), ('order.paid')) t(type)
            WHERE o.organization_id = %(org)s""",
            # Each subscription's start.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), s.organization_id, s.customer_id, s.created_at,
                'subscription.created', 'buyer', '', '', 'checkout', md5(s.id::text), s.id,
                jsonb_build_object('status', jsonb_build_array(NULL, 'active'))
            FROM orders_subscription s WHERE s.organization_id = %(org)s""",
            # user0's long history: metadata changes by a member, one an hour.
            f"""INSERT INTO activity_entry ({columns})
            SELECT gen_random_uuid(), c.organization_id, c.id,
                c.created_at + g * interval '1 hour', 'customer.updated', {member},
                md5(c.id::text || g), NULL,
                jsonb_build_object('metadata.seats', jsonb_build_array(g, g + 1))
            FROM customers_customer c,
                generate_series(1, %(heavy)s - (
                    SELECT count(*) FROM activity_entry e WHERE e.customer_id = c.id
                )) g
            WHERE c.organization_id = %(org)s AND c.email = 'user0@example.com'""",
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            if not transactional:
                cursor.execute("SET LOCAL synchronous_commit = off")
            for sql in statements:
                cursor.execute(sql, {"org": org, "heavy": HEAVY_CUSTOMER_ENTRIES})
            cursor.execute("ANALYZE activity_entry")
        total = Entry.objects.filter(organization=organization).count()
        self.stdout.write(f"Timeline: {total:,} entries in {time.monotonic() - started:.0f} s.")

    def _ensure_user(self, organization) -> None:
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=BENCH_USER[0])
        user.set_password(BENCH_USER[1])
        user.save()
        Membership.objects.get_or_create(
            user=user, organization=organization, defaults={"role": "owner"}
        )

    def _seed_org(self, organization, count: int, options, *, heavy: bool) -> None:
        rng = self.rng
        now = datetime.now(UTC)
        products = [
            Product.objects.create(
                organization=organization,
                name=name,
                price_amount=amount,
                price_currency="usd",
                recurring_interval=interval,
            )
            for name, amount, interval in (
                ("Pro monthly", 2900, "month"),
                ("Team yearly", 49000, "year"),
                ("E-book", 1900, None),
            )
        ]
        monthly, yearly, one_time = products
        org_id = organization.pk.hex
        start = now - timedelta(days=3 * 365)
        span_ms = int((now - start).total_seconds() * 1000)
        keys = options["metadata_keys"]
        customer_cols = (
            "id, created_at, modified_at, organization_id, version, email, email_verified, "
            "external_id, name, billing_name, billing_address_line1, billing_address_line2, "
            "billing_address_postal_code, billing_address_city, billing_address_state, "
            "billing_address_country, tax_id, locale, metadata"
        )
        order_cols = (
            "id, created_at, modified_at, organization_id, customer_id, product_id, "
            "subscription_id, status, billing_reason, subtotal_amount, discount_amount, "
            "tax_amount, total_amount, refunded_amount, currency"
        )
        sub_cols = (
            "id, created_at, modified_at, organization_id, customer_id, product_id, status, "
            "amount, currency, recurring_interval, current_period_start, current_period_end, "
            "cancel_at_period_end, started_at, customer_cancellation_reason, "
            "customer_cancellation_comment, payment_method_token, renewal_attempts"
        )
        prefix = "user" if heavy else f"{organization.slug}-user"
        progress = _Progress(self.stderr, organization.slug, count)
        with connection.cursor() as cursor:
            for chunk_start in range(0, count, CHUNK):
                customers, orders, subs = io.StringIO(), io.StringIO(), io.StringIO()
                for n in range(chunk_start, min(chunk_start + CHUNK, count)):
                    # Created times rise with n, so ids (UUIDv7 of that time) do too.
                    ms = int(start.timestamp() * 1000) + span_ms * n // max(count, 1)
                    created = datetime.fromtimestamp(ms / 1000, UTC)
                    cid = _uuid7_hex(ms, rng)
                    metadata = {}
                    if keys >= 1:
                        metadata["plan"] = rng.choice(PLANS)
                    if keys >= 2:
                        metadata["seats"] = rng.randint(1, 50)
                    if keys >= 3:
                        metadata["region"] = rng.choice(REGIONS)
                    if keys >= 4:
                        metadata["beta"] = rng.random() < 0.2
                    if keys >= 5:
                        metadata["score"] = round(rng.uniform(0, 10), 1)
                    customers.write(
                        f"{cid}\t{created.isoformat()}\t{created.isoformat()}\t{org_id}\t1\t"
                        f"{prefix}{n}@example.com\tt\text_{n}\t"
                        f"{rng.choice(FIRST)} {rng.choice(LAST)}\t\t\t\t\t\t\t\t\ten\t"
                        f"{json.dumps(metadata, separators=(',', ':'))}\n"
                    )
                    sub_id = None
                    if rng.random() < options["subscription_share"]:
                        product = monthly if rng.random() < 0.8 else yearly
                        sub_id = _uuid7_hex(ms, rng)
                        period_start = now - timedelta(days=rng.randint(0, 25))
                        period_end = add_interval(period_start, product.recurring_interval)
                        subs.write(
                            f"{sub_id}\t{created.isoformat()}\t{created.isoformat()}\t{org_id}\t"
                            f"{cid}\t{product.pk.hex}\tactive\t{product.price_amount}\tusd\t"
                            f"{product.recurring_interval}\t{period_start.isoformat()}\t"
                            f"{period_end.isoformat()}\tf\t{created.isoformat()}\t\t\t"
                            f"tok_test_success\t0\n"
                        )
                    n_orders = (
                        HEAVY_CUSTOMER_ORDERS
                        if (heavy and n == 0)
                        else options["orders_per_customer"]
                    )
                    for k in range(n_orders):
                        oms = ms + (k + 1) * 3_600_000
                        when = datetime.fromtimestamp(oms / 1000, UTC).isoformat()
                        if sub_id and k == 0:
                            product, reason, sid = monthly, "subscription_create", sub_id
                        else:
                            product, reason, sid = one_time, "purchase", "\\N"
                        amount = product.price_amount
                        orders.write(
                            f"{_uuid7_hex(oms, rng)}\t{when}\t{when}\t{org_id}\t{cid}\t"
                            f"{product.pk.hex}\t{sid}\tpaid\t{reason}\t{amount}\t0\t0\t{amount}\t0\tusd\n"
                        )
                _copy(cursor, "customers_customer", customer_cols, customers)
                _copy(cursor, "orders_subscription", sub_cols, subs)
                _copy(cursor, "orders_order", order_cols, orders)
                progress.update(min(chunk_start + CHUNK, count))
        progress.done()


def _copy(cursor, table: str, columns: str, buffer: io.StringIO) -> None:
    data = buffer.getvalue()
    if not data:
        return
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(data)


def _uuid7_hex(ms: int, rng: random.Random) -> str:
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    value |= 0b10 << 62 | rng.getrandbits(62)
    return f"{value:032x}"


class _Progress:
    def __init__(self, out, label: str, total: int):
        self.out, self.label, self.total = out, label, total
        self.started = time.monotonic()

    def update(self, done: int) -> None:
        width = 30
        filled = width * done // max(self.total, 1)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.out.write(
            f"\r{self.label:>14} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done:,}/{self.total:,} customers ({rate:,.0f}/s)",
            ending="",
        )
        self.out.flush()

    def done(self) -> None:
        self.out.write("")

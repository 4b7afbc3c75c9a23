"""Demo data: one merchant with a few hundred customers, their orders and subscriptions.

Deterministic (a fixed random seed) and idempotent: when the demo organization exists the
command only makes sure the logins work, so running it twice duplicates nothing.
"""

import random
import unicodedata
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from core.ids import uuid7
from customers.models import Customer
from orders.models import Order, Product, Subscription, add_interval
from organizations.models import Membership, Organization

DEMO_ORG_SLUG = "acme"
MERCHANT = ("merchant", "merchant@acme.example", "demo-merchant-2026")
TEAMMATE = ("teammate", "teammate@acme.example", "demo-teammate-2026")
ADMIN = ("admin", "admin@example.com", "demo-admin-2026")

FIRST = """
Ada Alan Grace Linus Margaret Ken Barbara Dennis Frances Guido Radia Bjarne Hedy Tim
Katherine John Sophie Yukihiro Anita Rasmus Mary Edsger Shafi Niklaus Joan Leslie Fran
Ivan Lynn Andrew Carol Donald Sandra Whitfield Adele Vint Jean Ward Elena Mateo Priya
Chen Amara Tomasz Ingrid Kwame Lucía Noor Hiroshi Olga
""".split()
LAST = """
Lovelace Turing Hopper Torvalds Hamilton Thompson Liskov Ritchie Allen van-Rossum
Perlman Stroustrup Lamarr Berners-Lee Johnson McCarthy Wilson Matsumoto Borg Lerdorf
Keller Dijkstra Goldwasser Wirth Clarke Lamport Bernstein Sutherland Conway Tanenbaum
Shaw Knuth Diffie Goldberg Kahn Sammet Cunningham Rossi García Sharma Wei Okafor Nowak
Larsen Mensah Fernández Haddad Tanaka Petrova
""".split()
DOMAINS = ["gmail.com", "fastmail.com", "proton.me", "outlook.com", "example.org", "hey.com"]
COUNTRIES = ["US", "US", "US", "GB", "DE", "FR", "CA", "NL", "SE", "JP", "BR", "IN", "AU"]
CITIES = {
    "US": "Portland",
    "GB": "Manchester",
    "DE": "Berlin",
    "FR": "Lyon",
    "CA": "Toronto",
    "NL": "Utrecht",
    "SE": "Malmö",
    "JP": "Osaka",
    "BR": "Recife",
    "IN": "Pune",
    "AU": "Hobart",
}
SOURCES = ["newsletter", "twitter", "search", "referral", "conference", "podcast"]

PRODUCTS = [
    # name, amount in cents, interval, archived
    ("Starter", 900, "month", False),
    ("Pro", 2900, "month", False),
    ("Team", 49000, "year", False),
    ("E-book: Practical Django", 1900, None, False),
    ("Lifetime license", 19900, None, False),
    ("Legacy plan", 500, "month", True),
]


class Command(BaseCommand):
    help = "Create the demo organization, logins, customers, orders and subscriptions."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, customers: int, seed: int, **options):
        users = self._ensure_users()
        if Organization.objects.filter(slug=DEMO_ORG_SLUG).exists():
            self.stdout.write("Demo data already present; nothing to add.")
        else:
            with transaction.atomic():
                self._seed(users, random.Random(seed), customers)
        self.stdout.write(
            f"Sign in as merchant: {MERCHANT[0]} / {MERCHANT[2]}\n"
            f"Staff admin (/admin/): {ADMIN[0]} / {ADMIN[2]}"
        )

    def _ensure_users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, email, password in (MERCHANT, TEAMMATE, ADMIN):
            user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
            user.set_password(password)
            if username == ADMIN[0]:
                user.is_staff = user.is_superuser = True
            user.save()
            users[username] = user
        return users

    def _seed(self, users: dict, rng: random.Random, count: int) -> None:
        now = timezone.now()
        acme = Organization.objects.create(name="Acme Software", slug=DEMO_ORG_SLUG)
        globex = Organization.objects.create(name="Globex Studio", slug="globex")
        Membership.objects.bulk_create(
            [
                Membership(user=users["merchant"], organization=acme, role="owner"),
                Membership(user=users["teammate"], organization=acme, role="member"),
                Membership(user=users["merchant"], organization=globex, role="member"),
            ]
        )
        for org, size in ((acme, count), (globex, max(count // 10, 5))):
            products = Product.objects.bulk_create(
                [
                    Product(
                        organization=org,
                        name=name,
                        price_amount=amount,
                        price_currency="usd",
                        recurring_interval=interval,
                        is_archived=archived,
                        created_at=now - timedelta(days=760),
                    )
                    for name, amount, interval, archived in PRODUCTS
                ]
            )
            self._seed_customers(org, products, rng, size, now)
        self.stdout.write(self.style.SUCCESS(f"Created {count} demo customers for {acme}."))

    def _seed_customers(self, org, products, rng, count, now) -> None:
        recurring = [p for p in products if p.recurring_interval and not p.is_archived]
        one_time = [p for p in products if not p.recurring_interval]
        customers, orders, subscriptions = [], [], []
        for n in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            created = now - timedelta(days=rng.uniform(0, 730), minutes=rng.randint(0, 1440))
            country = rng.choice(COUNTRIES)
            customer = Customer(
                id=uuid7(),
                organization=org,
                created_at=created,
                email=_ascii(f"{first}.{last}{n}@{rng.choice(DOMAINS)}".lower()),
                email_verified=rng.random() < 0.7,
                name=f"{first} {last.replace('-', ' ')}" if rng.random() < 0.9 else "",
                external_id=f"usr_{rng.getrandbits(40):010x}" if rng.random() < 0.4 else None,
                billing_name=f"{first} {last}" if rng.random() < 0.3 else "",
                billing_address_country=country if rng.random() < 0.8 else "",
                billing_address_city=CITIES[country],
                billing_address_line1=f"{rng.randint(1, 999)} Main Street",
                billing_address_postal_code=f"{rng.randint(10000, 99999)}",
                locale=rng.choice(["en", "en-US", "de", "fr", ""]),
                metadata=_demo_metadata(rng),
            )
            customers.append(customer)
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                product = rng.choice(one_time)
                orders.append(
                    _order(customer, product, created + timedelta(days=rng.uniform(0, 60)), now)
                )
            if rng.random() < 0.45:
                sub, sub_orders = _subscription(customer, rng.choice(recurring), rng, created, now)
                subscriptions.append(sub)
                orders.extend(sub_orders)
        for customer in customers:
            customer.full_clean()
        Customer.objects.bulk_create(customers)
        Subscription.objects.bulk_create(subscriptions)
        Order.objects.bulk_create([o for o in orders if o.created_at <= now])


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _demo_metadata(rng: random.Random) -> dict:
    if rng.random() < 0.4:
        return {}
    metadata = {"signup_source": rng.choice(SOURCES)}
    if rng.random() < 0.5:
        metadata["seats"] = rng.randint(1, 25)
    if rng.random() < 0.4:
        metadata["beta_tester"] = rng.random() < 0.5
    if rng.random() < 0.3:
        metadata["nps"] = round(rng.uniform(0, 10), 1)
    if rng.random() < 0.3:
        metadata["plan_tier"] = rng.choice(["gold", "silver", "bronze"])
    return metadata


def _order(customer, product, when, now, *, subscription=None, reason="purchase") -> Order:
    tax = (
        product.price_amount * 20 // 100
        if customer.billing_address_country in {"DE", "FR", "GB", "NL", "SE"}
        else 0
    )
    return Order(
        id=uuid7(),
        organization=customer.organization,
        customer=customer,
        product=product,
        subscription=subscription,
        billing_reason=reason,
        status=Order.Status.PAID,
        subtotal_amount=product.price_amount,
        tax_amount=tax,
        total_amount=product.price_amount + tax,
        currency=product.price_currency,
        created_at=min(when, now),
    )


def _subscription(customer, product, rng, created, now):
    """A subscription in a realistic state, with one order per period it ran."""
    status = rng.choices(
        ["active", "trialing", "past_due", "canceled", "cancel_at_period_end"],
        weights=[60, 6, 6, 20, 8],
    )[0]
    start = min(created + timedelta(days=rng.uniform(0, 20)), now)
    if status == "trialing":
        start = max(created, now - timedelta(days=rng.uniform(0, 14)))
    end_of_life = now
    if status == "canceled":
        end_of_life = start + (now - start) * rng.uniform(0.1, 0.9)
    periods = []
    period_start = start
    while True:
        period_end = add_interval(period_start, product.recurring_interval)
        periods.append((period_start, period_end))
        if period_end > end_of_life:
            break
        period_start = period_end
    current_start, current_end = periods[-1]
    sub = Subscription(
        id=uuid7(),
        organization=customer.organization,
        customer=customer,
        product=product,
        status="active" if status == "cancel_at_period_end" else status,
        amount=product.price_amount,
        currency=product.price_currency,
        recurring_interval=product.recurring_interval,
        current_period_start=current_start,
        current_period_end=current_end,
        started_at=start,
        created_at=start,
    )
    if status == "cancel_at_period_end":
        sub.cancel(now=now - timedelta(days=rng.uniform(0, 5)))
    elif status == "canceled":
        sub.status = "active"
        sub.revoke(now=end_of_life)
    billed = periods if status != "past_due" else periods[:-1]
    orders = [
        _order(
            customer,
            product,
            period_start,
            now,
            subscription=sub,
            reason="subscription_create" if i == 0 else "subscription_cycle",
        )
        for i, (period_start, _end) in enumerate(billed)
        if status != "trialing"
    ]
    return sub, orders

"""Likely duplicate customers: the normalisation rules, the incremental scan that finds the
pairs (run in the background, customers/jobs.py), and the reads of what it found.

A pair is two live customers of one organization with at least one reason:
- `email`: the same email once normalised (`email_key`): case, a `+tag` in the local part,
  and for the providers where dots don't matter (gmail.com, googlemail.com) the dots;
- `name_postal_code` / `name_tax_id`: the same name (case and spacing aside) and the same
  billing postal code or tax ID (spaces, dashes and case aside);
- `similar_name_domain`: very similar names at the same email domain (trigram similarity
  on PostgreSQL, `difflib` on SQLite). Free-mail domains are left out: two "John Smith"s
  at gmail.com say nothing.

The scan looks only at customers created or modified since its watermark
(`DuplicateScan`), a batch at a time, each through the indexes of migration 0015: it never
reads the whole table, and the customer list never waits for it. A dismissed pair ("not the
same person") is never offered again.
"""

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, DuplicatePair, DuplicateScan
from organizations.models import Organization

# Providers that ignore dots in the local part; googlemail.com is gmail.com.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
# Domains shared by strangers: a similar name there is no evidence.
FREE_MAIL_DOMAINS = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk hotmail.com hotmail.co.uk outlook.com "
    "live.com msn.com icloud.com me.com mac.com aol.com gmx.de gmx.net web.de proton.me "
    "protonmail.com mail.com yandex.ru mail.ru qq.com 163.com example.com".split()
)
SCORES = {"email": 0.95, "name_tax_id": 0.85, "name_postal_code": 0.75}
SIMILAR_NAME_WEIGHT = 0.6
# pg_trgm similarity, and difflib's ratio on SQLite (a different measure, so its own bar).
TRIGRAM_THRESHOLD = 0.5
DIFFLIB_THRESHOLD = 0.8
REASON_LABELS = {
    "email": "Same email (normalised)",
    "name_postal_code": "Same name and postal code",
    "name_tax_id": "Same name and tax ID",
    "similar_name_domain": "Similar name, same email domain",
}
BATCH = 500
# Customers modified in the last seconds wait for the next run: a transaction still open
# may commit a row stamped before the watermark, which the scan would then step past.
SCAN_LAG = timedelta(seconds=30)


def email_key(email: str) -> str:
    """The email as the scan compares it (SQL: customers_email_key, migration 0015)."""
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        return local.replace(".", "") + "@" + DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    return (email or "").strip().lower().partition("@")[2]


def name_key(name: str) -> str:
    """Case and spacing aside (SQL: customers_name_key)."""
    return re.sub(r"\s+", " ", (name or "").strip().lower())


def code_key(value: str) -> str:
    """A postal code or tax ID with spaces, dashes, dots and case aside."""
    return re.sub(r"[\s\-./]", "", (value or "")).upper()


def combined_score(reasons: dict[str, float]) -> float:
    """Each reason is independent evidence: 1 - the product of each one's doubt."""
    doubt = 1.0
    for score in reasons.values():
        doubt *= 1.0 - score
    return round(1.0 - doubt, 3)


@dataclass(frozen=True)
class _Row:
    id: UUID
    email: str
    name: str
    postal: str
    tax_id: str


_COLUMNS = ("id", "email", "name", "billing_address_postal_code", "tax_id")


def _row(values: tuple) -> _Row:
    id, email, name, postal, tax_id = values
    return _Row(UUID(str(id)), email, name, code_key(postal), code_key(tax_id))


def _add(found: dict, a: UUID, b: UUID, reason: str, score: float) -> None:
    if a == b:
        return
    key = (a, b) if a < b else (b, a)
    reasons = found.setdefault(key, {})
    reasons[reason] = max(score, reasons.get(reason, 0.0))


def _name_reasons(found: dict, row: _Row, other: _Row) -> None:
    if row.postal and row.postal == other.postal:
        _add(found, row.id, other.id, "name_postal_code", SCORES["name_postal_code"])
    if row.tax_id and row.tax_id == other.tax_id:
        _add(found, row.id, other.id, "name_tax_id", SCORES["name_tax_id"])


def find_pairs(organization_id, rows: list[_Row]) -> dict[tuple[UUID, UUID], dict[str, float]]:
    """Every pair that one of `rows` (live customers) forms with any live customer of the
    organization, with each reason's score."""
    if not rows:
        return {}
    if connection.vendor == "postgresql":
        return _find_pairs_postgresql(organization_id, rows)
    return _find_pairs_python(organization_id, rows)


def _find_pairs_postgresql(organization_id, rows: list[_Row]) -> dict:
    found: dict = {}
    live = "organization_id = %s AND deleted_at IS NULL"
    with connection.cursor() as cursor:
        # One index probe per key (customer_email_key), all keys in one statement.
        keys = {}
        for row in rows:
            keys.setdefault(email_key(row.email), []).append(row.id)
        cursor.execute(
            f"SELECT id, customers_email_key(email) FROM customers_customer "
            f"WHERE {live} AND customers_email_key(email) = ANY(%s)",
            [organization_id, list(keys)],
        )
        for other_id, key in cursor.fetchall():
            for row_id in keys.get(key, ()):
                _add(found, row_id, other_id, "email", SCORES["email"])
        # Same name (customer_name_key), then postal code or tax ID compared here.
        named = {}
        for row in rows:
            if name_key(row.name) and (row.postal or row.tax_id):
                named.setdefault(name_key(row.name), []).append(row)
        if named:
            cursor.execute(
                f"SELECT {', '.join(_COLUMNS)}, customers_name_key(name) FROM customers_customer "
                f"WHERE {live} AND name <> '' AND customers_name_key(name) = ANY(%s)",
                [organization_id, list(named)],
            )
            for *values, key in cursor.fetchall():
                other = _row(tuple(values))
                for row in named.get(key, ()):
                    _name_reasons(found, row, other)
        # Similar names at the same (not free-mail) domain: the domain's index, then the
        # trigram similarity of the few customers there.
        similar = [
            (row.id, row.name, email_domain(row.email))
            for row in rows
            if name_key(row.name) and email_domain(row.email) not in FREE_MAIL_DOMAINS
        ]
        if similar:
            cursor.execute(
                "SELECT b.id, c.id, similarity(lower(b.name), lower(c.name)) "
                "FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS b(id, name, domain) "
                "JOIN customers_customer c ON c.organization_id = %s AND c.deleted_at IS NULL "
                "AND customers_email_domain(c.email) = b.domain AND c.id <> b.id "
                "AND c.name <> '' AND similarity(lower(b.name), lower(c.name)) >= %s",
                [
                    [s[0] for s in similar],
                    [s[1] for s in similar],
                    [s[2] for s in similar],
                    organization_id,
                    TRIGRAM_THRESHOLD,
                ],
            )
            for row_id, other_id, similarity in cursor.fetchall():
                _add(
                    found, row_id, other_id, "similar_name_domain",
                    round(SIMILAR_NAME_WEIGHT * similarity, 3),
                )  # fmt: skip
    return found


def _find_pairs_python(organization_id, rows: list[_Row]) -> dict:
    """SQLite (small data): the same rules over the organization's live customers."""
    found: dict = {}
    everyone = [
        _row(values) for values in Customer.objects.for_org(organization_id).values_list(*_COLUMNS)
    ]
    by_email: dict[str, list[_Row]] = {}
    by_name: dict[str, list[_Row]] = {}
    by_domain: dict[str, list[_Row]] = {}
    for other in everyone:
        by_email.setdefault(email_key(other.email), []).append(other)
        if name_key(other.name):
            by_name.setdefault(name_key(other.name), []).append(other)
            by_domain.setdefault(email_domain(other.email), []).append(other)
    for row in rows:
        for other in by_email.get(email_key(row.email), ()):
            _add(found, row.id, other.id, "email", SCORES["email"])
        if not name_key(row.name):
            continue
        for other in by_name.get(name_key(row.name), ()):
            if other.id != row.id:
                _name_reasons(found, row, other)
        domain = email_domain(row.email)
        if domain in FREE_MAIL_DOMAINS:
            continue
        for other in by_domain.get(domain, ()):
            if other.id == row.id:
                continue
            ratio = difflib.SequenceMatcher(None, name_key(row.name), name_key(other.name))
            if ratio.ratio() >= DIFFLIB_THRESHOLD:
                score = round(SIMILAR_NAME_WEIGHT * ratio.ratio(), 3)
                _add(found, row.id, other.id, "similar_name_domain", score)
    return found


# --- The scan -----------------------------------------------------------------------------


def scan_organization(organization_id, *, batch: int = BATCH, lag: timedelta = SCAN_LAG) -> int:
    """Look at the next batch of the organization's customers created, changed or deleted
    since the watermark: record the pairs they form, drop the open pairs they no longer
    form (a changed email, a deleted customer), never touch a dismissed one. Returns how
    many customers it looked at (0: nothing new). A scan running elsewhere for the same
    organization makes this one return 0 at once."""
    with transaction.atomic():
        DuplicateScan.objects.get_or_create(organization_id=organization_id)
        state = (
            DuplicateScan.objects.select_for_update(skip_locked=True)
            .filter(organization_id=organization_id)
            .first()
        )
        if state is None:
            return 0
        changed = Customer.objects.filter(organization_id=organization_id)
        if state.scanned_until is not None:
            changed = changed.filter(
                Q(modified_at__gt=state.scanned_until)
                | Q(modified_at=state.scanned_until, id__gt=state.scanned_id)
            )
        changed = changed.filter(modified_at__lte=timezone.now() - lag)
        examined = list(
            changed.order_by("modified_at", "id").values_list(
                *_COLUMNS, "deleted_at", "modified_at"
            )[:batch]
        )
        if not examined:
            return 0
        live = [_row(tuple(values[:5])) for values in examined if values[5] is None]
        found = find_pairs(organization_id, live)
        _store(organization_id, [UUID(str(values[0])) for values in examined], found)
        last = examined[-1]
        state.scanned_until, state.scanned_id = last[6], last[0]
        state.save(update_fields=["scanned_until", "scanned_id", "updated_at"])
    return len(examined)


def _store(organization_id, examined: list[UUID], found: dict) -> None:
    pairs = DuplicatePair.objects.filter(organization_id=organization_id)
    existing = {
        (p.customer_id, p.other_id): p
        for p in pairs.filter(Q(customer_id__in=examined) | Q(other_id__in=examined))
    }
    gone = [p.pk for key, p in existing.items() if key not in found and p.dismissed_at is None]
    if gone:
        DuplicatePair.objects.filter(pk__in=gone).delete()
    now = timezone.now()
    new, changed = [], []
    for (a, b), reasons in found.items():
        names, score = sorted(reasons), combined_score(reasons)
        pair = existing.get((a, b))
        if pair is None:
            new.append(
                DuplicatePair(
                    organization_id=organization_id, customer_id=a, other_id=b,
                    reasons=names, score=score, found_at=now,
                )
            )  # fmt: skip
        elif pair.dismissed_at is None and (pair.reasons != names or pair.score != score):
            pair.reasons, pair.score = names, score
            changed.append(pair)
    # ignore_conflicts: a merge or another scan may have written the same pair meanwhile.
    DuplicatePair.objects.bulk_create(new, ignore_conflicts=True)
    DuplicatePair.objects.bulk_update(changed, ["reasons", "score"])


def scan_all(*, batch: int = BATCH) -> int:
    """The job: a batch of each organization's new and changed customers."""
    return sum(
        scan_organization(org_id, batch=batch)
        for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True)
    )


# --- Reads --------------------------------------------------------------------------------


def open_pairs(organization) -> QuerySet:
    """Undismissed pairs of two live customers, the likeliest first (duplicate_pair_open)."""
    return (
        DuplicatePair.objects.filter(
            organization=organization,
            dismissed_at=None,
            customer__deleted_at=None,
            other__deleted_at=None,
        )
        .select_related("customer", "other")
        .order_by("-score", "id")
    )


def pairs_of(customer: Customer) -> QuerySet:
    """A customer's undismissed pairs with live customers."""
    return open_pairs(customer.organization_id).filter(Q(customer=customer) | Q(other=customer))


def has_open_duplicates() -> ExpressionWrapper:
    """An annotation for a customer query: whether it has an undismissed pair with a live
    customer (two index probes, on DuplicatePair's customer and other)."""
    open_ = DuplicatePair.objects.filter(dismissed_at=None)
    either = Q(Exists(open_.filter(customer=OuterRef("pk"), other__deleted_at=None))) | Q(
        Exists(open_.filter(other=OuterRef("pk"), customer__deleted_at=None))
    )
    return ExpressionWrapper(either, output_field=BooleanField())


def pair_dismiss(*, organization, pair_id: int, user) -> DuplicatePair:
    """Mark a pair "not the same person": the scan never offers it again. A pair of
    another organization raises DuplicatePair.DoesNotExist."""
    with transaction.atomic():
        pair = DuplicatePair.objects.select_for_update().get(organization=organization, pk=pair_id)
        if pair.dismissed_at is None:
            pair.dismissed_at, pair.dismissed_by = timezone.now(), user
            pair.save(update_fields=["dismissed_at", "dismissed_by"])
    return pair

"""Deep pages in creation order start at the day the kept per-day counts point to
(PostgreSQL): the rows must be exactly those of a plain OFFSET, and the counts must follow
every kind of write and survive a recount."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate

from customers import counts, services
from customers.models import Customer, CustomerDayCount
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def kept(organization) -> dict:
    rows = CustomerDayCount.objects.filter(organization_id=organization.pk)
    totals: dict = {}
    for row in rows:
        totals[row.day] = totals.get(row.day, 0) + row.customers
    return {day: n for day, n in totals.items() if n}


def real(organization) -> dict:
    rows = (
        Customer.objects.for_org(organization)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("pk"))
    )
    return {row["day"]: row["n"] for row in rows}


@pytest.fixture
def spread(organization, other_organization):
    """37 customers over 9 days, several at the same instant, one deleted, and others of
    another organization on the same days."""
    made = []
    for n in range(37):
        customer = CustomerFactory(organization=organization)
        # Days of uneven sizes; customers 10-12 share one instant (ties broken by ID).
        at = DAY0 + timedelta(days=n % 9, hours=(n * 7) % 24)
        if 10 <= n <= 12:
            at = DAY0 + timedelta(days=3, hours=5)
        Customer.objects.filter(pk=customer.pk).update(created_at=at)
        made.append(customer)
        CustomerFactory(organization=other_organization)
    services.customer_delete(customer=made[5])
    return made


@pytest.mark.parametrize("sorting", ["-created_at", "created_at"])
@pytest.mark.parametrize("limit", [1, 4, 7, 100])
def test_every_page_is_the_offset_page(
    postgres_only, api, organization, spread, monkeypatch, sorting, limit
):
    monkeypatch.setattr(counts, "DAY_SEEK_FROM_OFFSET", 0)
    order = [sorting, "-id" if sorting.startswith("-") else "id"]
    expected = [
        str(pk)
        for pk in Customer.objects.for_org(organization)
        .order_by(*order)
        .values_list("pk", flat=True)
    ]
    walked = []
    page = 1
    while True:
        body = api.get("/v1/customers/", {"limit": limit, "page": page, "sorting": sorting}).json()
        assert body["pagination"]["total_count"] == 36
        if not body["items"]:
            break
        walked += [item["id"] for item in body["items"]]
        page += 1
    assert walked == expected


def test_a_deep_page_reads_one_day(postgres_only, api, organization, spread, monkeypatch):
    monkeypatch.setattr(counts, "DAY_SEEK_FROM_OFFSET", 0)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        body = api.get("/v1/customers/", {"limit": 5, "page": 6}).json()
    ids_query = next(
        q["sql"] for q in queries if q["sql"].startswith('SELECT "customers_customer"."id"')
    )
    assert '"customers_customer"."created_at" <' in ids_query  # started at the day found
    assert len(body["items"]) == 5


def test_the_counts_follow_every_kind_of_write(postgres_only, organization, other_organization):
    a = services.customer_create(organization=organization, email="a@example.com")
    b = services.customer_create(organization=organization, email="b@example.com")
    assert kept(organization) == real(organization)
    Customer.objects.filter(pk=a.pk).update(created_at=DAY0)  # moved to another day
    assert kept(organization) == real(organization)
    services.customer_delete(customer=b)  # soft delete
    assert kept(organization) == real(organization)
    Customer.objects.filter(pk=b.pk).update(deleted_at=None)  # restored by hand
    assert kept(organization) == real(organization)
    Customer.objects.filter(pk=a.pk).update(organization=other_organization)
    assert (kept(organization), kept(other_organization)) == (
        real(organization),
        real(other_organization),
    )
    Customer.objects.filter(pk=a.pk).delete()  # hard delete
    assert kept(other_organization) == real(other_organization) == {}


def test_recount_rebuilds_the_same_counts(postgres_only, organization, spread):
    before = kept(organization)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customerdaycount SET customers = 99")
        cursor.execute("SELECT customers_day_recount()")
    assert kept(organization) == before == real(organization)


def test_filters_and_other_sortings_never_seek(
    postgres_only, api, organization, spread, monkeypatch
):
    monkeypatch.setattr(counts, "DAY_SEEK_FROM_OFFSET", 0)
    calls = []
    real_seek = counts.created_day_seek
    monkeypatch.setattr(
        "customers.api.created_day_seek", lambda *a, **k: calls.append(1) or real_seek(*a, **k)
    )
    for params in (
        {"active": "true"},
        {"active": "false"},
        {"sorting": "email"},
        {"metadata[x]": "1"},
        {"query": "example"},
        {"sorting": ["-created_at", "email"]},
    ):
        assert api.get("/v1/customers/", {"page": 3, "limit": 2, **params}).status_code == 200
    assert calls == []

"""Page numbers without walking the table: a customer page past the first is found among
IDs alone (the sorting's index, index-only on PostgreSQL), then its rows are read by ID;
`active=` pages use the per-customer count of active subscriptions on PostgreSQL. Each
must give exactly the rows that OFFSET over the full rows gives."""

import json

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from customers.models import Customer
from orders.models import Subscription
from organizations.models import OrganizationAccessToken
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

SORTINGS = ["created_at", "-created_at", "email", "-email", "name", "-name"]
ORDERING = {
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
    "email": ["email", "id"],
    "-email": ["-email", "-id"],
    "name": ["name", "id"],
    "-name": ["-name", "-id"],
}


@pytest.fixture
def customers(organization):
    OrganizationAccessToken.objects.update(last_used_at=timezone.now())
    product = ProductFactory(organization=organization)
    rows = []
    for n in range(23):
        # Shared names, so only the ID breaks their ties; every third has a subscription.
        customer = CustomerFactory(organization=organization, name=f"Name {n % 4}")
        rows.append(customer)
        if n % 3 == 0:
            status = Subscription.Status.ACTIVE if n % 2 else Subscription.Status.CANCELED
            SubscriptionFactory(customer=customer, product=product, status=status)
    # A deleted customer and another organization's never show.
    CustomerFactory(organization=organization, deleted_at=timezone.now())
    CustomerFactory()
    return rows


def listed(api, **params) -> list[str]:
    response = api.get("/v1/customers/", params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in json.loads(response.content)["items"]]


def by_offset(queryset, sorting, page, limit) -> list[str]:
    offset = (page - 1) * limit
    return [str(pk) for pk in queryset.order_by(*ORDERING[sorting]).values_list("pk", flat=True)][
        offset : offset + limit
    ]


@pytest.mark.parametrize("sorting", SORTINGS)
def test_every_page_holds_the_rows_offset_gives(api, organization, customers, sorting):
    live = Customer.objects.for_org(organization)
    for page in range(1, 7):
        assert listed(api, sorting=sorting, limit=5, page=page) == by_offset(live, sorting, page, 5)


@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("sorting", ["-created_at", "email", "-name"])
def test_active_pages_hold_the_rows_the_exists_form_gives(
    api, organization, customers, active, sorting
):
    exists = Exists(Subscription.objects.active().filter(customer=OuterRef("pk")))
    expected = Customer.objects.for_org(organization).filter(exists if active else ~exists)
    for page in range(1, 5):
        assert listed(api, sorting=sorting, limit=3, page=page, active=active) == by_offset(
            expected, sorting, page, 3
        )


def test_active_follows_subscriptions_as_they_change(api, organization, customers):
    subscription = Subscription.objects.filter(customer__organization=organization).first()
    subscription.status = Subscription.Status.ACTIVE
    subscription.save()
    assert str(subscription.customer_id) in listed(api, active="true", limit=100)
    subscription.status = Subscription.Status.CANCELED
    subscription.save()
    assert str(subscription.customer_id) not in listed(api, active="true", limit=100)
    assert str(subscription.customer_id) in listed(api, active="false", limit=100)


def test_a_row_deleted_between_ids_and_rows_is_left_out(api, organization, customers):
    victim = by_offset(Customer.objects.for_org(organization), "-created_at", 2, 5)[0]
    done = []

    def delete_after_the_ids(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not done and sql.startswith('SELECT "customers_customer"."id" AS "pk" FROM'):
            done.append(sql)
            Customer.objects.filter(pk=victim).update(deleted_at=timezone.now())
        return result

    with connection.execute_wrapper(delete_after_the_ids):
        response = api.get("/v1/customers/", {"limit": 5, "page": 2})
    items = json.loads(response.content)["items"]
    assert done
    assert victim not in [item["id"] for item in items]
    assert len(items) == 4


# Statements of the unfiltered list, by page. PostgreSQL: the token with its organization,
# the kept counters (total_count), then either the page's rows (page 1) or its IDs (an
# index-only scan) and its rows by ID. SQLite keeps no counters: the rows are counted.
@pytest.mark.parametrize("sorting", SORTINGS)
@pytest.mark.parametrize("active", [None, True])
def test_deep_pages_cost_one_statement_more_than_the_first(
    api, customers, sorting, active, django_assert_num_queries
):
    params = {"limit": 2, "sorting": sorting} | ({"active": active} if active else {})
    # token, counters | count, page rows
    with django_assert_num_queries(3):
        assert api.get("/v1/customers/", {**params, "page": 1}).status_code == 200
    # token, counters | count, page IDs, rows by ID
    with django_assert_num_queries(4):
        assert api.get("/v1/customers/", {**params, "page": 2}).status_code == 200


def test_a_page_past_the_end_reads_no_rows(api, customers, django_assert_num_queries):
    # PostgreSQL: token, counters (the page is past the total: nothing to read).
    # SQLite: token, page IDs (none), count.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        response = api.get("/v1/customers/", {"limit": 5, "page": 50})
    assert json.loads(response.content)["items"] == []


# --- The indexes the pages rely on (PostgreSQL) ---------------------------------------


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        # Small test tables would be read whole; what matters is that an index serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("sorting", "active", "index"),
    [
        ("-created_at", None, "customer_org_created_live"),
        ("created_at", None, "customer_org_created_live"),
        ("email", None, "customer_org_email_live"),
        ("-email", None, "customer_org_email_live"),
        ("name", None, "customer_org_name_live"),
        ("-name", None, "customer_org_name_live"),
        ("-created_at", True, "customer_org_active_created_live"),
        ("created_at", True, "customer_org_active_created_live"),
    ],
)
def test_the_ids_of_a_page_are_an_index_only_scan(
    postgres_only, organization, customers, sorting, active, index
):
    ids = (
        Customer.objects.for_org(organization)
        .filter_active(active)
        .order_by(*ORDERING[sorting])
        .values_list("pk", flat=True)[500:600]
    )
    sql, params = ids.query.sql_with_params()
    plan = _plan(sql, params)
    assert f"Index Only Scan Backward using {index}" in plan or (
        f"Index Only Scan using {index}" in plan
    ), plan


def test_a_customers_orders_are_one_index_range(postgres_only, organization, customers):
    from orders.models import Order

    customer = customers[0]
    OrderFactory.create_batch(3, customer=customer)
    # Orders of others in the same organization, and statistics, so that the plan chosen
    # does not depend on a coin toss between two equally cheap indexes (it did, in CI).
    OrderFactory.create_batch(40, customer=customers[1])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    orders = (
        Order.objects.for_org(organization)
        .filter(customer_id__in=[customer.pk])
        .order_by("-created_at", "-id")
    )
    # Page and count: each a range of an index on the customer. At scale that is
    # order_org_customer_created (ordered as the page is; index-only for the count once the
    # visibility map is current, as the bench's VACUUM makes it); on a test table of a few
    # dozen rows any index on the customer (order_customer_created, the foreign key's own)
    # plus a sort of its three rows costs the same, and the planner takes any of them (it
    # did, in CI). Never a scan of the organization's orders.
    sql, params = orders[:100].query.sql_with_params()
    count_sql, count_params = orders.order_by().values("pk").query.sql_with_params()
    for plan in (
        _plan(sql, params),
        _plan(f"SELECT count(*) FROM ({count_sql}) t", count_params),
    ):
        assert "Seq Scan" not in plan, plan
        assert "customer_id" in plan.split("Index Cond:")[1].splitlines()[0], plan


def test_orders_of_a_customer_statements(api, organization, customers, django_assert_num_queries):
    customer = customers[0]
    OrderFactory.create_batch(12, customer=customer)
    # token, page rows, then their customers and products by ID (and any subscriptions by
    # ID: these orders have none), count
    with django_assert_num_queries(5):
        response = api.get("/v1/orders/", {"customer_id": str(customer.pk), "limit": 10})
    body = json.loads(response.content)
    assert len(body["items"]) == 10
    assert body["pagination"] == {"total_count": 12, "max_page": 2}

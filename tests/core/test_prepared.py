"""core.prepared: a query compiled once answers exactly like the queryset it came from."""

import uuid
from datetime import timedelta

from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.prepared import AnyOf, PreparedList, PreparedQuery
from customers.models import Customer
from orders.models import Order
from organizations.models import OrganizationAccessToken
from organizations.services import access_token_create
from tests.factories import CustomerFactory, OrderFactory

BY_EXTERNAL_ID = PreparedQuery(
    lambda p: Customer.objects.for_org(p.organization_id).filter(external_id=p.external_id)
)
TOKEN_BY_NAME = PreparedQuery(
    lambda p: OrganizationAccessToken.objects.select_related("organization").filter(name=p.name)
)


def _fields(obj):
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def test_same_instance_as_the_orm(organization):
    customer = CustomerFactory(
        organization=organization,
        external_id="u_1",
        metadata={"plan": "pro", "seats": 3, "ratio": 0.5, "beta": True},
    )
    found = BY_EXTERNAL_ID.first(organization_id=organization.pk, external_id="u_1")
    expected = Customer.objects.get(pk=customer.pk)
    assert _fields(found) == _fields(expected)
    # Converters ran: JSON comes back as a dict with its types, times as aware datetimes.
    assert found.metadata == {"plan": "pro", "seats": 3, "ratio": 0.5, "beta": True}
    assert found.created_at.tzinfo is not None
    assert found._state.adding is False and found._state.db == "default"
    found.name = "Renamed"
    found.save(update_fields=["name"])  # a normal model instance
    assert Customer.objects.get(pk=customer.pk).name == "Renamed"


def test_values_are_filled_in_per_call_and_tenancy_holds(organization, other_organization):
    mine = CustomerFactory(organization=organization, external_id="same")
    theirs = CustomerFactory(organization=other_organization, external_id="same")
    assert BY_EXTERNAL_ID.first(organization_id=organization.pk, external_id="same") == mine
    assert BY_EXTERNAL_ID.first(organization_id=other_organization.pk, external_id="same") == theirs
    assert BY_EXTERNAL_ID.first(organization_id=organization.pk, external_id="other") is None


def test_the_querysets_own_filters_stay(organization):
    customer = CustomerFactory(organization=organization, external_id="gone")
    assert BY_EXTERNAL_ID.first(organization_id=organization.pk, external_id="gone") == customer
    Customer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
    assert BY_EXTERNAL_ID.first(organization_id=organization.pk, external_id="gone") is None


def test_select_related_in_one_query(organization):
    token, _ = access_token_create(
        organization=organization, name="deploy bot", scopes=["customers:read"], expires_in_days=3
    )
    with CaptureQueriesContext(connection) as queries:
        found = TOKEN_BY_NAME.first(name="deploy bot")
        assert found.organization.slug == organization.slug
        assert found.expires_at - timezone.now() < timedelta(days=3)
    assert len(queries) == 1
    assert found == token


BY_IDS = PreparedQuery(lambda p: Customer.objects.filter(AnyOf(F("pk"), p.ids)))


def test_a_list_placeholder_takes_any_length_in_one_sql(organization):
    customers = CustomerFactory.create_batch(3, organization=organization)
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for size in (1, 2, 3):
            ids = [customer.pk for customer in customers[:size]]
            found = BY_IDS.all(ids=ids)
            assert sorted(c.pk for c in found) == sorted(ids)
            assert {_fields(c)["id"] for c in found} == set(ids)
        assert BY_IDS.all(ids=[uuid.uuid4()]) == []
    # The same statement each time, the list in one parameter.
    assert len(statements) == 4 and len(set(statements)) == 1


def _orders(p, shape):
    by_customer, ordering = shape
    orders = Order.objects.filter(organization_id=p.organization_id)
    if by_customer:
        orders = orders.filter(AnyOf(F("customer__external_id"), p.external_ids))
    return orders.order_by(*ordering).values_list("id", "total_amount", "created_at")


def test_a_list_answers_like_the_orm_for_each_shape(organization, other_organization):
    a = CustomerFactory(organization=organization, external_id="a")
    b = CustomerFactory(organization=organization, external_id="b")
    for customer in (a, b, a, a):
        OrderFactory(customer=customer, subtotal_amount=100 * (3 - Order.objects.count() % 3))
    OrderFactory(customer=CustomerFactory(organization=other_organization, external_id="a"))
    orders = PreparedList(_orders)
    for shape in [(False, ("-created_at", "-id")), (True, ("total_amount", "id"))]:
        by_customer, ordering = shape
        expected = Order.objects.filter(organization_id=organization.pk)
        if by_customer:
            expected = expected.filter(customer__external_id__in=["a"])
        expected = expected.order_by(*ordering).values_list("id", "total_amount", "created_at")
        values = {"organization_id": organization.pk, "external_ids": ["a"]}
        for low, high in [(0, 2), (1, 3), (2, 10), (5, 10)]:
            assert orders.page(shape, low, high, **values) == list(expected[low:high])
        assert orders.count(shape, **values) == expected.count()
        # Converters ran (aware datetimes on SQLite too).
        assert orders.page(shape, 0, 1, **values)[0][2].tzinfo is not None
    assert orders.count((True, ("id",)), organization_id=organization.pk, external_ids=["c"]) == 0
    assert len(orders._querysets) == 3


def test_shapes_past_the_limit_are_compiled_each_time_alike(organization):
    OrderFactory.create_batch(3, customer=CustomerFactory(organization=organization))
    orders = PreparedList(_orders, max_shapes=1)
    values = {"organization_id": organization.pk, "external_ids": []}
    kept = orders.page((False, ("id",)), 0, 10, **values)
    assert orders.page((False, ("-id",)), 0, 10, **values) == kept[::-1]
    assert orders.count((False, ("-id",)), **values) == 3
    assert list(orders._querysets) == [(False, ("id",))]

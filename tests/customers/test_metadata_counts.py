"""The metadata counters PostgreSQL keeps (CustomerMetadataCount) always equal a real
count of the customers the same filter finds, whoever writes the rows."""

import json

import pytest
from django.db import connection

from customers import services
from customers.counts import metadata_count, metadata_token
from customers.models import Customer, CustomerMetadataCount
from tests.factories import CustomerFactory

pytestmark = pytest.mark.usefixtures("postgres_only")

FILTERS = [
    {"plan": ["pro"]},
    {"plan": ["free"]},
    {"plan": ["pro", "team"]},
    {"seats": ["3"]},
    {"seats": ["3.0"]},
    {"ratio": ["0.5"]},
    {"beta": ["true"]},
    {"beta": ["false"]},
    {"name with spaces": ["é ünïcode"]},
    {"missing": ["x"]},
]


def assert_counts_match(organization):
    for filters in FILTERS:
        real = Customer.objects.for_org(organization).filter_metadata(filters).count()
        assert metadata_count(organization, filters) == real, filters


def test_counters_follow_every_kind_of_write(organization, other_organization):
    a = services.customer_create(
        organization=organization,
        email="a@example.com",
        metadata={"plan": "pro", "seats": 3, "beta": True},
    )
    b = services.customer_create(
        organization=organization,
        email="b@example.com",
        metadata={"plan": "team", "seats": "3", "ratio": 0.5, "name with spaces": "é ünïcode"},
    )
    services.customer_create(
        organization=other_organization, email="x@example.com", metadata={"plan": "pro"}
    )
    assert metadata_count(organization, {"plan": ["pro"]}) == 1
    assert_counts_match(organization)

    services.customer_update(customer=a, metadata={"plan": "free", "seats": 3.0, "beta": False})
    services.customer_set_metadata_key(customer=b, key="beta", value=True)
    services.customer_remove_metadata_key(customer=b, key="ratio")
    services.customer_update(customer=b, name="Renamed")  # no metadata change
    assert_counts_match(organization)

    services.customer_delete(customer=a)  # soft delete leaves the counts
    assert_counts_match(organization)
    Customer.objects.filter(pk=a.pk).update(deleted_at=None)  # and a restore comes back
    assert_counts_match(organization)

    with connection.cursor() as cursor:  # raw SQL is counted too
        cursor.execute(
            "UPDATE customers_customer SET metadata = %s::jsonb WHERE id = %s",
            ['{"plan": "pro", "beta": true}', b.pk],
        )
    assert_counts_match(organization)

    Customer.objects.filter(pk=b.pk).delete()  # hard delete
    CustomerFactory(organization=organization, metadata={"plan": "pro"})
    assert_counts_match(organization)
    assert metadata_count(other_organization, {"plan": ["pro"]}) == 1


def test_recount_rebuilds_the_same_counters(organization):
    for n in range(5):
        CustomerFactory(organization=organization, metadata={"plan": ["pro", "team"][n % 2]})
    before = {
        (c.key, c.value): c.customers
        for c in CustomerMetadataCount.objects.filter(organization_id=organization.pk)
        if c.customers
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT customers_metadata_recount()")
    after = {
        (c.key, c.value): c.customers
        for c in CustomerMetadataCount.objects.filter(organization_id=organization.pk)
    }
    assert after == before == {("plan", "s:pro"): 3, ("plan", "s:team"): 2}


@pytest.mark.parametrize(
    "value",
    [
        "pro",
        "",
        'é ünïcode "quoted" \\ tab\t',
        "3",
        0,
        3,
        -12,
        10**30,
        0.5,
        3.0,
        -0.0,
        1e-07,
        1e20,
        0.30000000000000004,
        2.5e-300,
        True,
        False,
    ],
)
def test_python_and_sql_spell_values_alike(db, value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT customers_metadata_token(%s::jsonb)", [json.dumps(value)])
        assert cursor.fetchone()[0] == metadata_token(value)


def test_api_total_count_comes_from_the_counters(
    api, organization, other_organization, django_assert_num_queries
):
    for n in range(7):
        CustomerFactory(organization=organization, metadata={"plan": "pro" if n < 4 else "free"})
    api.get("/v1/customers/")  # the token's first use also records last_used_at
    with django_assert_num_queries(3):  # token, counters, page
        body = api.get("/v1/customers/?metadata[plan]=pro&limit=2").json()
    assert body["pagination"] == {"total_count": 4, "max_page": 2}
    assert len(body["items"]) == 2
    # Naming our organization changes nothing; naming only another one finds nobody.
    ours = api.get(f"/v1/customers/?metadata[plan]=pro&organization_id={organization.pk}")
    assert ours.json()["pagination"]["total_count"] == 4
    theirs = api.get(f"/v1/customers/?metadata[plan]=pro&organization_id={other_organization.pk}")
    assert theirs.json()["pagination"] == {"total_count": 0, "max_page": 0}
    # Other filters (or several keys) count the rows: still exact.
    body = api.get("/v1/customers/?metadata[plan]=pro&query=zzz-nobody").json()
    assert body["pagination"]["total_count"] == 0
    body = api.get("/v1/customers/?metadata[plan]=pro&active=false").json()
    assert body["pagination"]["total_count"] == 4


def test_seed_scale_leaves_exact_counters(transactional_db):
    from django.core.management import call_command

    from organizations.models import Organization

    call_command("seed_scale", customers=300, other_organizations=1, verbosity=0)
    for organization in Organization.objects.all():
        assert_counts_match(organization)
    assert metadata_count(Organization.objects.get(slug="scale"), {"plan": ["pro"]}) > 0

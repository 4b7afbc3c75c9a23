"""core.prepared: a query compiled once answers exactly like the queryset it came from."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.prepared import PreparedQuery
from customers.models import Customer
from organizations.models import OrganizationAccessToken
from organizations.services import access_token_create
from tests.factories import CustomerFactory

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

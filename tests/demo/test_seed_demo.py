from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from customers.models import Customer
from orders.models import Order, Subscription
from organizations.models import Organization

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Organization, Customer, Order, Subscription))


def test_seed_demo_builds_realistic_data_and_is_idempotent():
    call_command("seed_demo", customers=60, stdout=StringIO())
    first = counts()
    call_command("seed_demo", customers=60, stdout=StringIO())
    assert counts() == first

    acme = Organization.objects.get(slug="acme")
    customers = Customer.objects.for_org(acme)
    assert customers.count() == 60
    assert customers.exclude(external_id=None).exists()
    assert customers.exclude(metadata={}).exists()
    assert Order.objects.for_org(acme).count() > 60
    statuses = set(Subscription.objects.for_org(acme).values_list("status", flat=True))
    assert {"active", "canceled"} <= statuses
    assert authenticate(username="merchant", password="demo-merchant-2026") is not None
    assert authenticate(username="admin", password="demo-admin-2026").is_staff

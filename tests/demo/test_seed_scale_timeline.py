"""seed_scale writes the timeline its generated history implies, and tops up data seeded
before the timeline existed."""

import pytest
from django.core.management import call_command

from activity.models import Entry
from customers.models import Customer
from orders.models import Order, Subscription
from organizations.models import Organization


@pytest.mark.django_db(transaction=True)
def test_seed_scale_writes_the_timeline_and_tops_it_up(postgres_only):
    call_command("seed_scale", customers=200, other_organizations=1, verbosity=0)
    scale = Organization.objects.get(slug="scale")
    entries = Entry.objects.filter(organization=scale)
    customers = Customer.objects.filter(organization=scale).count()
    orders = Order.objects.filter(organization=scale).count()
    subscriptions = Subscription.objects.filter(organization=scale).count()
    heavy = Customer.objects.get(organization=scale, email="user0@example.com")
    assert entries.filter(customer=heavy).count() == 10_000
    others = entries.exclude(customer=heavy).count()
    heavy_orders = Order.objects.filter(customer=heavy).count()
    expected = 3 * (customers - 1) + 2 * (orders - heavy_orders) + subscriptions
    expected -= Subscription.objects.filter(customer=heavy).count()
    assert others == expected
    assert set(entries.values_list("actor_type", flat=True)) == {"token", "user", "buyer", "system"}
    # Seeded before the timeline: reusing the data adds its history once.
    entries.delete()
    call_command("seed_scale", customers=200, other_organizations=1, verbosity=0)
    assert entries.filter(customer=heavy).count() == 10_000
    total = entries.count()
    call_command("seed_scale", customers=200, other_organizations=1, verbosity=0)
    assert entries.count() == total

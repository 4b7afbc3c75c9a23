"""seed_scale loads with the list figures' triggers off and recounts them after: every
customer's kept figures then equal a recomputation from its orders and subscriptions."""

import pytest
from django.core.management import call_command

from customers.models import Customer
from organizations.models import Organization
from tests.customers.test_list_figures import assert_figures_match


@pytest.mark.django_db(transaction=True)
def test_seed_scale_leaves_the_list_figures_right(postgres_only):
    call_command("seed_scale", customers=300, other_organizations=1, verbosity=0)
    scale = Organization.objects.get(slug="scale")
    assert_figures_match(scale, Organization.objects.exclude(pk=scale.pk).get())
    heavy = Customer.objects.with_figures().get(organization=scale, email="user0@example.com")
    assert heavy.lifetime_revenue > 0 and heavy.last_order_at is not None

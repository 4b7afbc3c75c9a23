"""The customer list's rows (customers/list_rows.py) are the markup the template loop
wrote before them: the loop is kept here as the reference and both are compared as HTML,
for each kind of value a row can show, in a time zone and a language other than UTC and
English."""

# ruff: noqa: E501 (the reference loop is the template's lines as they were)
from datetime import UTC, datetime

import pytest
from django.template import engines
from django.test.html import parse_html
from django.utils import timezone, translation

from customers.list_rows import customer_rows_html
from customers.models import Customer
from customers.querysets import mark_active_subscriptions
from customers.views import _mark_column
from tests.factories import CustomerFactory, OrderFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

REFERENCE = """{% load dashboard %}
{% for customer in page.rows %}
  <tr>
    <td>
      <a class="customer-cell" href="{% url 'customers:detail' organization.slug customer.pk %}">
        <span class="avatar" aria-hidden="true">{{ customer|initials }}</span>
        <span class="who"><strong>{{ customer.display_name }}</strong>{% if customer.name %}<span class="muted email">{{ customer.email }}</span>{% endif %}</span>
      </a>
    </td>
    <td class="hide-sm mono">{{ customer.external_id|default:"—" }}</td>
    <td class="hide-sm"><time datetime="{{ customer.created_at|date:'c' }}">{{ customer.created_at|date:"M j, Y" }}</time></td>
    <td class="num nowrap">{% if customer.revenue_currency %}{{ customer.lifetime_revenue|money:customer.revenue_currency }}{% else %}<span class="muted">—</span>{% endif %}</td>
    <td class="num nowrap hide-sm">{% if customer.mrr_currency %}{{ customer.mrr|money:customer.mrr_currency }}{% else %}<span class="muted">—</span>{% endif %}</td>
    <td class="hide-sm nowrap">{% if customer.last_order_at %}<time datetime="{{ customer.last_order_at|date:'c' }}">{{ customer.last_order_at|date:"M j, Y" }}</time>{% else %}<span class="muted">—</span>{% endif %}</td>
    {% if column %}{% if customer.column_value is None %}<td class="metadata-column"><span class="muted">—</span></td>{% else %}<td class="metadata-column" title="{{ customer.column_value }}">{{ customer.column_value }}</td>{% endif %}{% endif %}
    <td class="status">{% if customer.has_active_subscription %}<span class="badge success">Active</span>{% else %}<span class="muted small">Inactive</span>{% endif %}</td>
  </tr>
{% endfor %}
"""


def _rows(organization, column):
    rows = list(Customer.objects.filter(organization=organization).with_figures().order_by("email"))
    mark_active_subscriptions(rows)
    _mark_column(rows, column)
    return rows


@pytest.fixture
def customers(organization):
    plain = CustomerFactory(
        organization=organization, email="a&b@x.io", name="", external_id=None,
        metadata={"plan": "<pro>"},
    )  # fmt: skip
    named = CustomerFactory(
        organization=organization, email="grace@x.io", name="Grace <Hopper>",
        external_id="ext_1&2", metadata={"seats": 1500, "beta": True, "ratio": 1.5},
    )  # fmt: skip
    OrderFactory(customer=named, created_at=datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    SubscriptionFactory(customer=named)
    CustomerFactory(organization=organization, email="zed@x.io", name="Zed", metadata={})
    named.created_at = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    named.save(update_fields=["created_at"])
    return plain, named


@pytest.mark.parametrize("column", ["", "plan", "seats", "beta", "ratio"])
@pytest.mark.parametrize(("zone", "language"), [("UTC", "en"), ("Europe/Paris", "fr")])
def test_the_rows_are_the_template_loops_markup(organization, customers, column, zone, language):
    with timezone.override(zone), translation.override(language):
        rows = _rows(organization, column)
        expected = (
            engines["django"]
            .from_string(REFERENCE)
            .render({"page": {"rows": rows}, "organization": organization, "column": column})
        )
        written = customer_rows_html(rows, org_slug=organization.slug, column=column)
    assert parse_html(written) == parse_html(expected)
    assert len(rows) == 3


def test_a_page_without_rows_writes_nothing(organization):
    assert customer_rows_html([], org_slug=organization.slug, column="plan") == ""

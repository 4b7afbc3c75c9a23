"""The customer list's figure columns (lifetime revenue, MRR, last order), their sortings
in the dashboard and the API, and a chosen metadata key as a column."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import views
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def list_url(organization):
    return reverse("customers:list", args=[organization.slug])


def emails(response) -> list[str]:
    return [c.email for c in response.context["page"].rows]


def all_pages(client, url, params) -> list[str]:
    seen = []
    while url:
        response = client.get(url, params)
        assert response.status_code == 200
        seen += emails(response)
        url, params = response.context["next_url"], None
    return seen


@pytest.fixture
def spenders(organization):
    """Customers with lifetime revenues 300, 100, 300 (a tie), 0 and none, ordering on
    different days."""
    product = ProductFactory(organization=organization, recurring_interval=None)
    now = timezone.now()
    made = {}
    for name, amounts, days_ago in (
        ("a", [100, 200], 5),
        ("b", [100], 1),
        ("c", [300], 3),
        ("d", [0], 4),
        ("e", [], None),
    ):
        customer = CustomerFactory(organization=organization, email=f"{name}@x.io")
        for amount in amounts:
            OrderFactory(
                customer=customer,
                product=product,
                subtotal_amount=amount,
                created_at=now - timedelta(days=days_ago),
            )
        made[name] = customer
    return made


def test_the_list_shows_lifetime_revenue_mrr_and_last_order(merchant, list_url, organization):
    customer = CustomerFactory(organization=organization, email="buyer@x.io")
    product = ProductFactory(organization=organization, recurring_interval=None)
    OrderFactory(customer=customer, product=product, subtotal_amount=123456)
    OrderFactory(customer=customer, product=product, subtotal_amount=100, status="pending")
    SubscriptionFactory(customer=customer, amount=49000, recurring_interval="year")
    CustomerFactory(organization=organization, email="never@x.io")
    response = merchant.get(list_url)
    text = response.text
    for header in ("Lifetime revenue", "MRR", "Last order"):
        assert f">{header}</th>" in text
    assert "USD 1,234.56" in text
    assert "USD 40.83" in text  # 49000 / 12, in whole cents
    assert f"{timezone.localdate():%b} " in text
    row = next(c for c in response.context["page"].rows if c.email == "buyer@x.io")
    assert (row.lifetime_revenue, row.revenue_currency, row.mrr) == (123456, "usd", 4083)
    never = next(c for c in response.context["page"].rows if c.email == "never@x.io")
    assert never.last_order_at is None and never.revenue_currency is None


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        # Ties (a and c at 300, e and d at 0) go by ID in the sorting's direction.
        ("-lifetime_revenue", ["c", "a", "b", "e", "d"]),
        ("lifetime_revenue", ["d", "e", "b", "a", "c"]),
        # A customer without a paid order sorts as the earliest.
        ("-last_order_at", ["b", "c", "d", "a", "e"]),
        ("last_order_at", ["e", "a", "d", "c", "b"]),
    ],
)
def test_sorting_by_the_figures(merchant, list_url, spenders, sorting, expected, monkeypatch):
    want = [f"{name}@x.io" for name in expected]
    assert emails(merchant.get(list_url, {"sorting": sorting})) == want
    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)  # cursors across the ties
    assert all_pages(merchant, list_url, {"sorting": sorting}) == want


@pytest.mark.parametrize("sorting", ["-lifetime_revenue", "last_order_at"])
def test_figure_sorted_pages_cover_every_customer_once(
    merchant, list_url, organization, sorting, monkeypatch
):
    product = ProductFactory(organization=organization, recurring_interval=None)
    for n in range(30):
        customer = CustomerFactory(organization=organization)
        if n % 3:
            OrderFactory(customer=customer, product=product, subtotal_amount=100 * (n % 4))
    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 7)
    seen = all_pages(merchant, list_url, {"sorting": sorting})
    assert len(seen) == len(set(seen)) == 30


def test_a_search_sorted_by_revenue_keeps_the_order(merchant, list_url, spenders):
    response = merchant.get(list_url, {"sorting": "-lifetime_revenue", "query": "x.io"})
    assert emails(response) == ["c@x.io", "a@x.io", "b@x.io", "e@x.io", "d@x.io"]


def test_a_customer_of_another_organization_never_appears(
    merchant, list_url, spenders, other_organization
):
    theirs = CustomerFactory(organization=other_organization, email="rich@them.io")
    product = ProductFactory(organization=other_organization, recurring_interval=None)
    OrderFactory(customer=theirs, product=product, subtotal_amount=10**9)
    for sorting in ("-lifetime_revenue", "-last_order_at", "lifetime_revenue"):
        assert "rich@them.io" not in emails(merchant.get(list_url, {"sorting": sorting}))


def test_a_tampered_revenue_cursor_is_a_clear_400(merchant, list_url, spenders, monkeypatch):
    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)
    next_url = merchant.get(list_url, {"sorting": "-lifetime_revenue"}).context["next_url"]
    # The same cursor under a sorting whose key is text, and a text one under revenue.
    assert merchant.get(next_url.replace("-lifetime_revenue", "email")).status_code == 400
    bad = merchant.get(list_url, {"sorting": "-lifetime_revenue", "cursor": "WyJ4IiwiMSJd"})
    assert bad.status_code == 400


def test_a_metadata_key_as_a_column(merchant, list_url, organization):
    CustomerFactory(organization=organization, email="pro@x.io", metadata={"plan": "pro"})
    CustomerFactory(organization=organization, email="yes@x.io", metadata={"beta": True})
    response = merchant.get(list_url, {"column": "plan"})
    text = response.text
    assert '<th scope="col" class="metadata-column">plan</th>' in text
    assert '<td class="metadata-column" title="pro">pro</td>' in text
    assert '<td class="metadata-column"><span class="muted">—</span></td>' in text
    # The menu offers the suggested keys, the chosen one selected.
    assert '<option value="plan" selected>plan</option>' in text
    assert '<option value="beta">beta</option>' in text
    shown = merchant.get(list_url, {"column": "beta"}).text
    assert '<td class="metadata-column" title="Yes">Yes</td>' in shown
    assert "metadata-column" not in merchant.get(list_url).text


def test_the_column_stays_in_paging_filters_and_the_export_link(
    merchant, list_url, organization, monkeypatch
):
    CustomerFactory.create_batch(3, organization=organization, metadata={"plan": "pro"})
    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)
    response = merchant.get(list_url, {"column": "plan", "sorting": "-lifetime_revenue"})
    assert "column=plan" in response.context["next_url"]
    assert "column=plan" in response.context["export_url"]
    rows = merchant.get(response.context["next_url"], headers={"HX-Request": "true"})
    assert '<td class="metadata-column" title="pro">pro</td>' in rows.text
    redirected = merchant.get(
        list_url, {"column": "plan", "filter_key": "plan", "filter_value": "pro"}
    )
    assert "column=plan" in redirected["Location"]
    assert merchant.get(response.context["export_url"]).status_code == 200


def test_the_list_query_count_with_figures_and_a_column(
    merchant, list_url, organization, spenders, django_assert_num_queries
):
    for customer in spenders.values():
        customer.metadata = {"plan": "pro"}
        customer.save()
    # As the plain list: the figures come with the page's rows, in the same query.
    # session, user, membership, page (with the figures), active subscriptions, count,
    # metadata suggestions
    with django_assert_num_queries(7):
        merchant.get(list_url, {"column": "plan", "sorting": "-lifetime_revenue"})


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        ("-lifetime_revenue", ["c", "a", "b", "e", "d"]),
        ("lifetime_revenue", ["d", "e", "b", "a", "c"]),
        ("-last_order_at", ["b", "c", "d", "a", "e"]),
        ("last_order_at", ["e", "a", "d", "c", "b"]),
    ],
)
def test_the_api_sorts_by_the_figures_and_keeps_polars_shape(api, spenders, sorting, expected):
    response = api.get("/v1/customers/", {"sorting": sorting, "limit": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["pagination"]["total_count"] == 5
    pages = [item["email"] for item in body["items"]]
    for page in (2, 3):
        more = api.get("/v1/customers/", {"sorting": sorting, "limit": 2, "page": page}).json()
        pages += [item["email"] for item in more["items"]]
    assert pages == [f"{name}@x.io" for name in expected]
    assert not {"lifetime_revenue", "mrr", "last_order_at"} & set(body["items"][0])

import pytest
from django.urls import reverse

from customers import services
from tests.factories import CustomerFactory, SubscriptionFactory

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


def test_it_lists_only_live_customers_of_my_organization(
    merchant, list_url, organization, other_organization
):
    mine = CustomerFactory(organization=organization, email="mine@example.com")
    gone = CustomerFactory(organization=organization, email="gone@example.com")
    services.customer_delete(customer=gone)
    CustomerFactory(organization=other_organization, email="theirs@example.com")
    response = merchant.get(list_url)
    assert emails(response) == [mine.email]
    assert "theirs@example.com" not in response.text


def test_search_matches_name_email_and_external_id_ignoring_case(merchant, list_url, organization):
    CustomerFactory(organization=organization, email="ada@example.com", name="Ada Lovelace")
    CustomerFactory(organization=organization, email="bob@corp.io", external_id="USR_42")
    CustomerFactory(organization=organization, email="carol@example.com")
    assert emails(merchant.get(list_url, {"query": "LOVE"})) == ["ada@example.com"]
    assert emails(merchant.get(list_url, {"query": "corp.IO"})) == ["bob@corp.io"]
    assert emails(merchant.get(list_url, {"query": "usr_4"})) == ["bob@corp.io"]


def test_active_filter_and_badge(merchant, list_url, organization):
    subscribed = CustomerFactory(organization=organization, email="sub@example.com")
    SubscriptionFactory(customer=subscribed)
    lapsed = CustomerFactory(organization=organization, email="lapsed@example.com")
    SubscriptionFactory(customer=lapsed, status="canceled")
    CustomerFactory(organization=organization, email="none@example.com")

    assert emails(merchant.get(list_url, {"active": "true"})) == ["sub@example.com"]
    assert sorted(emails(merchant.get(list_url, {"active": "false"}))) == [
        "lapsed@example.com",
        "none@example.com",
    ]
    page = merchant.get(list_url).text
    assert page.count('class="badge success">Active<') == 1


def test_metadata_filters_or_repeated_keys_and_and_different_keys(merchant, list_url, organization):
    CustomerFactory(organization=organization, email="a@x.io", metadata={"plan": "pro", "seats": 3})
    CustomerFactory(
        organization=organization, email="b@x.io", metadata={"plan": "team", "seats": 3}
    )
    CustomerFactory(organization=organization, email="c@x.io", metadata={"plan": "pro", "seats": 9})
    CustomerFactory(organization=organization, email="d@x.io", metadata={"beta": True})

    def filtered(params):
        return sorted(emails(merchant.get(list_url, params)))

    assert filtered({"metadata[plan]": "pro"}) == ["a@x.io", "c@x.io"]
    assert filtered({"metadata[plan]": ["pro", "team"]}) == ["a@x.io", "b@x.io", "c@x.io"]
    assert filtered({"metadata[plan]": "pro", "metadata[seats]": "3"}) == ["a@x.io"]
    assert filtered({"metadata[beta]": "true"}) == ["d@x.io"]


def test_the_metadata_filter_form_redirects_to_the_api_style_url(merchant, list_url):
    response = merchant.get(list_url, {"query": "ada", "filter_key": "plan", "filter_value": "pro"})
    assert response.status_code == 302
    assert response.url == f"{list_url}?query=ada&metadata%5Bplan%5D=pro"


def test_each_metadata_filter_chip_links_to_the_list_without_it(merchant, list_url):
    response = merchant.get(list_url, {"metadata[plan]": "pro", "metadata[seats]": "3"})
    chips = response.context["filters"]
    assert [c["remove_url"] for c in chips] == [
        f"{list_url}?metadata%5Bseats%5D=3",
        f"{list_url}?metadata%5Bplan%5D=pro",
    ]


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        ("-created_at", ["c@x.io", "b@x.io", "a@x.io"]),
        ("created_at", ["a@x.io", "b@x.io", "c@x.io"]),
        ("email", ["a@x.io", "b@x.io", "c@x.io"]),
        ("-email", ["c@x.io", "b@x.io", "a@x.io"]),
        ("name", ["b@x.io", "c@x.io", "a@x.io"]),
        ("-name", ["a@x.io", "c@x.io", "b@x.io"]),
    ],
)
def test_sorting(merchant, list_url, organization, sorting, expected):
    for email, name in (("a@x.io", "Zed"), ("b@x.io", "Amy"), ("c@x.io", "Max")):
        CustomerFactory(organization=organization, email=email, name=name)
    assert emails(merchant.get(list_url, {"sorting": sorting})) == expected


def test_an_unknown_sorting_is_a_clear_400(merchant, list_url):
    response = merchant.get(list_url, {"sorting": "password"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.text


@pytest.mark.parametrize("sorting", ["-created_at", "email", "-name"])
def test_keyset_pages_cover_every_customer_once(merchant, list_url, organization, sorting):
    # Same names on purpose: ties are broken by id, so no row is skipped or repeated.
    CustomerFactory.create_batch(120, organization=organization, name="Same")
    seen, url, params = [], list_url, {"sorting": sorting}
    while url:
        response = merchant.get(url, params)
        seen += emails(response)
        url, params = response.context["next_url"], None
    assert len(seen) == 120
    assert len(set(seen)) == 120


def test_load_more_over_htmx_returns_only_rows(merchant, list_url, organization):
    CustomerFactory.create_batch(60, organization=organization)
    next_url = merchant.get(list_url).context["next_url"]
    response = merchant.get(next_url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.strip().startswith("<tr>")
    assert len(response.context["page"].rows) == 10
    assert "HX-Request" in response["Vary"]


def test_searching_over_htmx_returns_the_results_block(merchant, list_url, organization):
    CustomerFactory(organization=organization, email="ada@example.com")
    response = merchant.get(list_url, {"query": "ada"}, headers={"HX-Request": "true"})
    assert response.text.strip().startswith('<section id="customer-results"')
    assert "ada@example.com" in response.text


def test_a_tampered_cursor_is_a_clear_400(merchant, list_url):
    response = merchant.get(list_url, {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "not valid" in response.text


def test_empty_states(merchant, list_url, organization):
    assert "No customers yet" in merchant.get(list_url).text
    CustomerFactory(organization=organization)
    assert "Nothing matches" in merchant.get(list_url, {"query": "zzz"}).text


def test_the_list_query_count_does_not_grow_with_rows(
    merchant, list_url, organization, django_assert_num_queries
):
    # session, user, memberships with their organizations, the count (bounded), one page
    # of customers, the active subscriptions among that page's customers, the metadata
    # filter's suggestions
    CustomerFactory.create_batch(10, organization=organization, metadata={"plan": "pro"})
    with django_assert_num_queries(7):
        assert len(merchant.get(list_url).context["page"].rows) == 10
    CustomerFactory.create_batch(90, organization=organization)
    with django_assert_num_queries(7):
        assert len(merchant.get(list_url, {"sorting": "email"}).context["page"].rows) == 50


def test_load_more_and_searching_over_htmx_skip_what_they_do_not_show(
    merchant, list_url, organization, django_assert_num_queries
):

    CustomerFactory.create_batch(60, organization=organization)
    next_url = merchant.get(list_url).context["next_url"]
    # session, user, memberships, the page, its active subscriptions: no count, no
    # suggestions (the rows go below the ones shown)
    with django_assert_num_queries(5):
        merchant.get(next_url, headers={"HX-Request": "true"})
    # the same and the count: the suggestions stay on the page, outside the results; on
    # PostgreSQL the count is the kept counters' sum, on SQLite the rows up to the bound
    with django_assert_num_queries(6):
        merchant.get(list_url, {"active": "false"}, headers={"HX-Request": "true"})


@pytest.mark.parametrize("sorting", ["-created_at", "created_at", "email", "-name"])
def test_searched_pages_cover_every_match_once(merchant, list_url, organization, sorting):
    # On PostgreSQL a selective search sorts its matches (see keyset_page): the pages must
    # still cover each match exactly once, in order.
    CustomerFactory.create_batch(60, organization=organization, name="Findme Same")
    CustomerFactory.create_batch(20, organization=organization, name="Other")
    seen, url, params = [], list_url, {"query": "findme", "sorting": sorting}
    while url:
        response = merchant.get(url, params)
        seen += emails(response)
        url, params = response.context["next_url"], None
    assert len(seen) == len(set(seen)) == 60


def test_a_search_query_count(merchant, list_url, organization, django_assert_num_queries):
    from django.db import connection

    CustomerFactory.create_batch(5, organization=organization, name="Findme")
    # session, user, memberships, the count, the page, the page's active subscriptions, the
    # suggestions; on PostgreSQL also the time budgets of the count and of the fast search
    # path, each set and reset around its query in its own transaction (a savepoint and
    # its release here, inside the test's transaction)
    expected = 7 + (8 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(expected):
        response = merchant.get(list_url, {"query": "findme"})
    assert len(response.context["page"].rows) == 5


def test_a_search_past_its_time_budget_falls_back_to_the_index_walk(
    postgres_only, merchant, list_url, organization, monkeypatch
):
    from django.db import OperationalError

    from customers import views

    real = views.keyset_page

    def slow_fast_path(queryset, **kwargs):
        if kwargs.get("sort_matches_first"):
            raise OperationalError("canceling statement due to statement timeout")
        return real(queryset, **kwargs)

    monkeypatch.setattr(views, "keyset_page", slow_fast_path)
    CustomerFactory(organization=organization, email="ada@example.com", name="Ada Lovelace")
    CustomerFactory(organization=organization, email="bob@example.com")
    assert emails(merchant.get(list_url, {"query": "lovelace"})) == ["ada@example.com"]


# --- How many match, the status column, nameless customers, metadata suggestions --------


def count_text(response) -> str:
    return " ".join(response.context["count"].text.split())


def test_the_list_says_how_many_customers_match(merchant, list_url, organization):
    CustomerFactory(organization=organization, name="Ada Lovelace")
    CustomerFactory.create_batch(2, organization=organization)
    response = merchant.get(list_url)
    assert count_text(response) == "3 customers"
    assert '<p class="list-count" id="customer-count">3 customers</p>' in response.text
    assert count_text(merchant.get(list_url, {"query": "lovelace"})) == "1 customer"


def test_past_the_exact_bound_the_count_is_an_estimate_never_a_full_count(
    merchant, list_url, organization, monkeypatch
):
    from django.db import connection

    from customers import querysets

    monkeypatch.setattr(querysets, "EXACT_COUNT_UP_TO", 3)
    CustomerFactory.create_batch(5, organization=organization, name="Findme")
    searched = {"query": "findme"}  # no counter answers a search
    if connection.vendor == "postgresql":
        monkeypatch.setattr(querysets, "_planner_estimate", lambda customers: 12_345)
        assert count_text(merchant.get(list_url, searched)) == "about 12,345 customers"
        # An estimate below what was counted is no estimate at all.
        monkeypatch.setattr(querysets, "_planner_estimate", lambda customers: 2)
        assert count_text(merchant.get(list_url, searched)) == "more than 3 customers"
        # Unfiltered, or by active alone, the kept counters answer exactly at any size.
        assert count_text(merchant.get(list_url)) == "5 customers"
        assert count_text(merchant.get(list_url, {"active": "false"})) == "5 customers"
    else:
        assert count_text(merchant.get(list_url)) == "more than 3 customers"


def test_a_filter_on_one_metadata_key_is_counted_exactly_from_the_counters(
    postgres_only, merchant, list_url, organization, other_organization, monkeypatch
):
    from customers import querysets

    monkeypatch.setattr(querysets, "EXACT_COUNT_UP_TO", 2)
    CustomerFactory.create_batch(4, organization=organization, metadata={"plan": "pro"})
    CustomerFactory(organization=organization, metadata={"plan": "team"})
    CustomerFactory(organization=other_organization, metadata={"plan": "pro"})
    assert count_text(merchant.get(list_url, {"metadata[plan]": "pro"})) == "4 customers"


def test_a_search_past_its_count_budget_gives_the_estimate(
    postgres_only, merchant, list_url, organization, monkeypatch
):
    from django.db import OperationalError

    from customers import querysets

    def timed_out(queryset, limit):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(querysets, "_count_up_to", timed_out)
    CustomerFactory(organization=organization, name="Ada Lovelace")
    assert count_text(merchant.get(list_url, {"query": "lovelace"})).startswith("about ")


def test_the_status_column_has_a_visible_header(merchant, list_url, organization):
    CustomerFactory(organization=organization)
    assert '<th scope="col" class="status">Status</th>' in merchant.get(list_url).text


def test_a_customer_without_a_name_shows_the_email_once(merchant, list_url, organization):
    CustomerFactory(organization=organization, name="", email="nameless@example.com")
    CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")
    page = merchant.get(list_url).text
    assert page.count("nameless@example.com") == 1
    assert page.count("ada@example.com") == 1
    assert page.count("Ada Lovelace") == 1


def test_the_metadata_filter_suggests_my_keys_and_their_values(
    merchant, list_url, organization, other_organization
):
    CustomerFactory(organization=organization, metadata={"plan": "pro", "seats": 3})
    CustomerFactory(organization=organization, metadata={"plan": "team", "beta": True})
    removed = CustomerFactory(organization=organization, metadata={"gone": "x"})
    services.customer_delete(customer=removed)
    CustomerFactory(organization=other_organization, metadata={"secret": "theirs"})
    response = merchant.get(list_url)
    suggestions = {s["key"]: s["values"] for s in response.context["metadata_suggestions"]}
    assert suggestions == {
        "beta": ["true"],
        "plan": ["pro", "team"],
        "seats": ["3"],
    }
    page = response.text
    assert 'list="metadata-keys"' in page
    assert '<option value="plan">' in page
    assert '<datalist id="metadata-values-2" data-key="plan">' in page
    assert "secret" not in page and "theirs" not in page
    assert 'placeholder="plan"' not in page and 'placeholder="pro"' not in page  # samples


def test_the_metadata_suggestions_stay_bounded(merchant, list_url, organization, monkeypatch):
    from customers import querysets

    monkeypatch.setattr(querysets, "SUGGESTED_KEYS", 2)
    monkeypatch.setattr(querysets, "SUGGESTED_VALUES", 1)
    CustomerFactory(organization=organization, metadata={"a": "1", "b": "x", "c": "z"})
    CustomerFactory(organization=organization, metadata={"b": "y"})
    suggestions = merchant.get(list_url).context["metadata_suggestions"]
    assert [s["key"] for s in suggestions] == ["a", "b"]
    assert all(len(s["values"]) == 1 for s in suggestions)

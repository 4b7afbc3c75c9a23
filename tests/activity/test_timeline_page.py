"""The customer's timeline on the dashboard: newest first, grouped by day, who acted, a
readable diff, the filter chips, Load more; the same cost at 10 entries and at 10,000."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from activity.models import Entry
from customers import services as customer_services
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, email="ada@example.com")


def timeline_url(customer, **query) -> str:
    url = reverse("activity:timeline", args=[customer.organization.slug, customer.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def entry(customer, type_="customer.updated", *, at=None, changes=None, **fields) -> Entry:
    return Entry(
        organization_id=customer.organization_id,
        customer=customer,
        type=type_,
        created_at=at or timezone.now(),
        actor_type=fields.pop("actor_type", "user"),
        actor_name=fields.pop("actor_name", "Grace Hopper"),
        source=fields.pop("source", "dashboard"),
        changes=changes if changes is not None else {"name": ["Ada", "Ada L."]},
        **fields,
    )


def many(customer, count: int, *, start: datetime, step=timedelta(minutes=7)) -> None:
    Entry.objects.bulk_create(
        [entry(customer, at=start - i * step) for i in range(count)], batch_size=1000
    )


def entry_ids(html: str) -> list[str]:
    return re.findall(r'id="entry-([0-9a-f-]{36})"', html)


def test_the_customer_page_loads_the_timeline_panel_with_a_link_without_javascript(
    merchant, customer
):
    page = merchant.get(reverse("customers:detail", args=["acme", customer.pk])).text
    url = timeline_url(customer)
    assert f'hx-get="{url}"' in page
    assert f'<a href="{url}">' in page  # the same place, without JavaScript


def test_entries_come_newest_first_grouped_by_day_with_actor_and_time(merchant, customer):
    now = timezone.now()
    Entry.objects.bulk_create(
        [
            entry(
                customer,
                "customer.created",
                at=now - timedelta(days=3),
                actor_type="token",
                actor_name="CRM sync",
                source="api",
                changes={"email": [None, "ada@example.com"]},
            ),
            entry(customer, at=now - timedelta(hours=2)),
            entry(
                customer,
                "order.paid",
                at=now - timedelta(minutes=30),
                actor_type="system",
                actor_name="System",
                source="system",
                changes={"status": ["pending", "paid"]},
            ),
        ]
    )
    response = merchant.get(timeline_url(customer))
    html = response.text.replace("\xa0", " ")  # timesince keeps "30 minutes" on one line
    assert response.headers["Vary"].count("HX-Request") == 1
    assert [e.type for d in response.context["days"] for e in (r.entry for r in d.rows)] == [
        "order.paid",
        "customer.updated",
        "customer.created",
    ]
    assert html.index("Order paid") < html.index("Profile updated") < html.index("Customer created")
    assert "by CRM sync" in html and ">API token</span>" in html
    assert "by Grace Hopper" in html and ">member</span>" in html
    assert "by System</span>" in html  # not "System system"
    assert "30 minutes ago" in html and "3 days ago" in html
    # Absolute on hover (title) and for screen readers (the hidden text), machine-readable.
    created = Entry.objects.get(type="customer.created").created_at
    assert f'datetime="{created.isoformat()}"' in html
    assert f'title="{created:%b} {created.day}, {created.year}' in html
    assert f"3 days ago, {created:%B} {created.day}, {created.year}" in html
    days = {
        timezone.localdate(now - d)
        for d in (timedelta(days=3), timedelta(hours=2), timedelta(minutes=30))
    }
    assert html.count('class="day-label"') == len(days)  # one label per local day, at any hour


def test_a_diff_strikes_the_old_value_and_names_metadata_by_its_key(merchant, customer):
    entry(
        customer,
        changes={
            "email": ["ada@old.example", "ada@example.com"],
            "metadata.plan": ["pro", "team"],
            "metadata.seats": [1, True],
            "metadata.gone": ["x", None],
            "tax_id": [None, "GB123"],
        },
    ).save()
    html = merchant.get(timeline_url(customer)).text
    assert '<del class="old">ada@old.example</del>' in html
    assert '<ins class="new">ada@example.com</ins>' in html
    assert '<span class="mono">plan</span> <span class="muted small">metadata</span>' in html
    assert "metadata.plan" not in html
    # A retype shows both typed values.
    assert '<del class="old">1 <span class="type">Integer</span></del>' in html
    assert '<ins class="new">true <span class="type">Yes/No</span></ins>' in html
    # A removed key: the old value, then "—"; a field set for the first time: no strike.
    assert '<del class="old">x</del>' in html and 'title="absent">—</span>' in html
    assert "<dt>Tax ID</dt>" in html
    assert '<del class="old">—' not in html


def test_values_in_a_diff_are_escaped(merchant, customer):
    entry(customer, changes={"name": ["<b>old</b>", "<script>alert(1)</script>"]}).save()
    html = merchant.get(timeline_url(customer)).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_real_update_shows_up_on_the_timeline(merchant, customer):
    customer_services.customer_update(customer=customer, name="Ada Lovelace")
    html = merchant.get(timeline_url(customer)).text
    assert "Profile updated" in html and "Ada Lovelace" in html


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        (
            "all",
            {
                "order.paid",
                "subscription.renewed",
                "checkout.completed",
                "customer.updated",
                "external_id.set",
                "note.added",
                "webhook.delivery",
            },
        ),
        ("billing", {"order.paid", "subscription.renewed", "checkout.completed"}),
        ("profile", {"customer.updated", "external_id.set"}),
        ("notes", {"note.added"}),
        ("webhooks", {"webhook.delivery"}),
    ],
)
def test_filter_chips_show_their_kinds_of_entries(merchant, customer, kind, shown):
    types = [
        "order.paid",
        "subscription.renewed",
        "checkout.completed",
        "customer.updated",
        "external_id.set",
        "note.added",
        "webhook.delivery",
    ]
    Entry.objects.bulk_create([entry(customer, t) for t in types])
    response = merchant.get(timeline_url(customer, kind=kind), headers=HTMX)
    assert {r.entry.type for d in response.context["days"] for r in d.rows} == shown
    chips = re.findall(r'<a class="filter-chip"[^>]*>([^<]+)</a>', response.text)
    assert chips == ["All", "Billing", "Profile &amp; metadata", "Notes", "Webhooks"]
    assert re.search(r'aria-current="true">', response.text)


def test_a_chip_swaps_the_feed_only_and_every_chip_has_an_href(merchant, customer):
    entry(customer).save()
    response = merchant.get(
        timeline_url(customer, kind="profile"), headers={**HTMX, "HX-Target": "timeline-feed"}
    )
    html = response.text
    assert html.lstrip().startswith('<div id="timeline-feed">')
    assert 'id="note-add"' not in html
    for href, hx_get in re.findall(r'class="filter-chip" href="([^"]+)" hx-get="([^"]+)"', html):
        assert href == hx_get


def test_the_webhooks_chip_says_when_there_are_none(merchant, customer):
    entry(customer).save()
    html = merchant.get(timeline_url(customer, kind="webhooks")).text
    assert "No webhook deliveries about this customer yet." in html


def test_load_more_pages_through_every_entry_once_and_keeps_days_continuous(merchant, customer):
    # 60 entries every 7 minutes: pages of 25, then 25, then 10, within one or two days.
    many(customer, 60, start=timezone.now())
    seen: list[str] = []
    response = merchant.get(timeline_url(customer))
    seen += entry_ids(response.text)
    pages = 1
    while next_url := response.context["next_url"]:
        response = merchant.get(next_url, headers=HTMX)
        assert 'id="timeline-feed"' not in response.text  # only the next entries
        assert response.text.lstrip().startswith('<li class="timeline-day')
        seen += entry_ids(response.text)
        pages += 1
        # The day the previous page ended in gets no second visible heading.
        first_day = response.context["days"][0]
        assert first_day.continued == (
            first_day.day
            == timezone.localdate(
                Entry.objects.filter(pk__in=seen[-len(entry_ids(response.text)) - 1 :][:1])
                .get()
                .created_at
            )
        )
    assert pages == 3
    expected = list(
        Entry.objects.filter(customer=customer)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )
    assert seen == [str(pk) for pk in expected]


def test_load_more_is_a_plain_link_too(merchant, customer):
    many(customer, 30, start=timezone.now())
    html = merchant.get(timeline_url(customer)).text
    (href, hx_get) = re.search(
        r'<a class="button" href="([^"]+)" hx-get="([^"]+)"[^>]*>Load more', html
    ).groups()
    assert href == hx_get
    page_two = merchant.get(href.replace("&amp;", "&"))
    assert page_two.status_code == 200
    assert "<h1>Timeline and notes" in page_two.text  # a whole page without JavaScript
    assert len(entry_ids(page_two.text)) == 5
    assert "← Newest entries" in page_two.text
    assert 'class="day-label"' in page_two.text  # a page of its own heads its first day


def test_a_damaged_cursor_is_a_400_that_says_so(merchant, customer):
    response = merchant.get(timeline_url(customer, cursor="not-a-cursor"))
    assert response.status_code == 400
    assert "not valid" in response.text


def test_another_organizations_customer_is_404(client, outsider, customer):
    client.force_login(outsider)
    assert client.get(timeline_url(customer)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, customer):
    response = client.get(timeline_url(customer))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_deleted_customers_timeline_is_404(merchant, customer):
    customer_services.customer_delete(customer=customer)
    assert merchant.get(timeline_url(customer)).status_code == 404


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["panel", "page"])
def test_ten_thousand_entries_cost_the_same_queries_as_ten(
    merchant, customer, django_assert_num_queries, headers
):
    # session, user, memberships with their organizations, the customer, one page of
    # entries (26 rows off the (customer, created_at, id) index), the pinned notes and the
    # notes the page is about, with their authors
    many(customer, 10, start=timezone.now())
    with django_assert_num_queries(6):
        response = merchant.get(timeline_url(customer), headers=headers)
    assert len(entry_ids(response.text)) == 10
    many(customer, 10_000, start=timezone.now() - timedelta(days=1), step=timedelta(seconds=30))
    with django_assert_num_queries(6):
        response = merchant.get(timeline_url(customer), headers=headers)
    assert len(entry_ids(response.text)) == 25
    # A page deep in the timeline costs the same.
    cursor_page = response.context["next_url"]
    for _ in range(3):
        cursor_page = merchant.get(cursor_page, headers=HTMX).context["next_url"]
    with django_assert_num_queries(6):
        response = merchant.get(cursor_page, headers=headers)
    assert len(entry_ids(response.text)) == 25


def test_the_timeline_reads_its_page_off_the_customer_index(customer, postgres_only):
    from django.db import connection

    many(customer, 2_000, start=timezone.now(), step=timedelta(seconds=5))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE activity_entry")
    queryset = Entry.objects.for_customer(customer).order_by("-created_at", "-id")[:26]
    plan = queryset.explain()
    assert "entry_customer_created" in plan, plan
    assert "Sort" not in plan.split("Limit")[1].split("Index")[0], plan


def test_entry_times_are_shown_in_utc_dates(merchant, customer):
    entry(customer, at=datetime(2025, 3, 4, 23, 30, tzinfo=UTC)).save()
    html = merchant.get(timeline_url(customer)).text
    assert "Tuesday, March 4, 2025" in html

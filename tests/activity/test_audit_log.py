"""Settings → Audit log: owners read every entry of their organization, filter them and
export them as a streamed, formula-safe CSV; members get 403, outsiders 404."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from activity import audit
from activity.models import Entry
from customers import services
from organizations.services import access_token_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def log_url(organization, **params) -> str:
    url = reverse("audit:log", args=[organization.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def export_url(organization) -> str:
    return reverse("audit:export", args=[organization.slug])


def add(customer, *, at=T0, type_="customer.updated", actor=("system", "", "System"), **fields):
    actor_type, actor_id, actor_name = actor
    return Entry.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        created_at=at,
        type=type_,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name,
        source=fields.pop("source", "system"),
        **fields,
    )


def ids_on(html: str) -> list[str]:
    return re.findall(r'data-entry="([0-9a-f-]+)"', html)


@pytest.fixture
def customers(organization):
    return [
        CustomerFactory(organization=organization, email="ada@example.com", external_id="usr_1"),
        CustomerFactory(organization=organization, email="bob@example.com"),
    ]


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_an_owner_reads_every_customers_entries_newest_first(
    owner_client, organization, other_organization, customers
):
    ada, bob = customers
    first = add(ada, at=T0, changes={"name": ["Ada", "Ada L."]})
    second = add(bob, at=T0 + timedelta(hours=1), type_="order.paid")
    theirs = add(CustomerFactory(organization=other_organization), at=T0 + timedelta(hours=2))
    response = owner_client.get(log_url(organization))
    assert response.status_code == 200
    assert ids_on(response.text) == [str(second.pk), str(first.pk)]
    assert str(theirs.pk) not in response.text
    assert "<del>Ada</del> → <ins>Ada L.</ins>" in response.text
    assert reverse("customers:detail", args=[organization.slug, ada.pk]) in response.text


def test_the_settings_navigation_links_it_for_owners_only(client, owner, member, organization):
    client.force_login(owner)
    page = client.get(reverse("customers:list", args=[organization.slug])).text
    assert log_url(organization) in page
    client.force_login(member)
    page = client.get(reverse("customers:list", args=[organization.slug])).text
    assert log_url(organization) not in page


@pytest.mark.parametrize("url", [log_url, export_url])
def test_members_get_403_outsiders_404_and_anonymous_visitors_sign_in(
    client, member, outsider, organization, customers, url
):
    add(customers[0])
    assert client.get(url(organization)).status_code == 302
    client.force_login(member)
    response = client.get(url(organization))
    assert response.status_code == 403
    assert "Only owners can open this page" in response.text
    client.force_login(outsider)
    assert client.get(url(organization)).status_code == 404


def test_it_filters_by_actor(owner_client, owner, organization, customers):
    ada, _ = customers
    token, _secret = access_token_create(
        organization=organization, name="CRM", scopes=["customers:read"]
    )
    by_owner = add(ada, actor=("user", str(owner.pk), "owner"), source="dashboard")
    by_token = add(ada, actor=("token", str(token.pk), "CRM"), source="api")
    by_system = add(ada)
    by_buyer = add(ada, actor=("buyer", "01a2331c-0000-7000-8000-000000000001", "a@b.c"))
    page = owner_client.get(log_url(organization)).text
    # The select lists the members and tokens, then the kinds of actor.
    assert f'<option value="user:{owner.pk}">owner (owner)</option>' in page
    assert f'<option value="token:{token.pk}">CRM (API token' in page
    for value, expected in [
        (f"user:{owner.pk}", by_owner),
        (f"token:{token.pk}", by_token),
        ("system", by_system),
        ("buyer", by_buyer),
        (f"buyer:{by_buyer.actor_id}", by_buyer),
    ]:
        response = owner_client.get(log_url(organization, actor=value))
        assert ids_on(response.text) == [str(expected.pk)], value
        assert f'value="{value}" selected' in response.text


def test_each_rows_actor_links_to_that_actors_entries(owner_client, organization, customers):
    entry = add(customers[0], actor=("buyer", "01a2331c-0000-7000-8000-000000000001", "a@b.c"))
    page = owner_client.get(log_url(organization)).text
    assert f'href="{log_url(organization)}?actor=buyer%3A{entry.actor_id}"' in page


def test_it_filters_by_type_customer_and_dates(owner_client, organization, customers):
    ada, bob = customers
    paid = add(ada, type_="order.paid", at=T0)
    updated = add(ada, at=T0 + timedelta(days=2))
    bobs = add(bob, at=T0 + timedelta(days=5))
    cases = [
        ({"type": "order.paid"}, [paid]),
        ({"customer": str(ada.pk)}, [updated, paid]),
        ({"customer": "usr_1"}, [updated, paid]),
        ({"customer": "ADA@example.com"}, [updated, paid]),
        ({"customer": "nobody@example.com"}, []),
        ({"start": "2026-10-03"}, [bobs, updated]),
        ({"end": "2026-10-03"}, [updated, paid]),  # the end day is included
        ({"start": "2026-10-02", "end": "2026-10-03"}, [updated]),
        ({"customer": "usr_1", "type": "customer.updated"}, [updated]),
    ]
    for params, expected in cases:
        response = owner_client.get(log_url(organization, **params))
        assert response.status_code == 200
        assert ids_on(response.text) == [str(e.pk) for e in expected], params


def test_a_deleted_customers_entries_stay_and_can_be_found(owner_client, organization, customers):
    ada, _ = customers
    services.customer_delete(customer=ada)
    response = owner_client.get(log_url(organization, customer=str(ada.pk)))
    assert [e.type for e in Entry.objects.filter(customer=ada)] == ["customer.deleted"]
    assert len(ids_on(response.text)) == 1
    assert "(deleted)" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "root"},
        {"actor": "user"},  # a member needs their ID
        {"type": "password.changed"},
        {"start": "yesterday"},
        {"start": "2026-10-05", "end": "2026-10-01"},
    ],
)
def test_a_bad_filter_is_a_400_saying_why(owner_client, organization, customers, params):
    add(customers[0])
    response = owner_client.get(log_url(organization, **params))
    assert response.status_code == 400
    assert "Check the filters" in response.text
    assert owner_client.get(export_url(organization), params).status_code == 400


def test_older_pages_walk_every_entry_exactly_once(
    owner_client, organization, customers, monkeypatch
):
    monkeypatch.setattr(audit, "PAGE_SIZE", 4)
    made = [add(customers[i % 2], at=T0 + timedelta(minutes=i // 3)) for i in range(11)]
    seen, url, pages = [], log_url(organization), 0
    while url:
        response = owner_client.get(url)
        seen += ids_on(response.text)
        pages += 1
        older = re.search(r'<a class="button" href="([^"]+)"[^>]*>Older</a>', response.text)
        url = older and older.group(1).replace("&amp;", "&")
    assert pages == 3
    expected = sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)
    assert seen == [str(e.pk) for e in expected]


def test_a_bad_cursor_is_a_400(owner_client, organization):
    response = owner_client.get(log_url(organization, cursor="nope"))
    assert response.status_code == 400
    assert "not valid" in response.text


def test_htmx_gets_the_log_alone(owner_client, organization, customers):
    add(customers[0])
    response = owner_client.get(
        log_url(organization, type="customer.updated"), headers={"HX-Request": "true"}
    )
    assert response.text.lstrip().startswith('<section id="audit-log"')
    assert "HX-Request" in response["Vary"]


def test_the_page_is_six_queries_however_many_entries(
    owner_client, owner, organization, customers, django_assert_num_queries
):
    access_token_create(organization=organization, name="CRM", scopes=["customers:read"])
    for i in range(120):
        add(customers[i % 2], at=T0 + timedelta(seconds=i))
    # 1. the session  2. the user  3. the user's memberships (and organizations)
    # 4. the members for the actor select  5. the tokens for it  6. the page of entries
    # (with their customers)
    with django_assert_num_queries(6):
        response = owner_client.get(log_url(organization, actor="system"))
    assert len(ids_on(response.text)) == 50
    # A customer filter reads the customers it names first: one more.
    with django_assert_num_queries(7):
        owner_client.get(log_url(organization, customer="usr_1"))


# --- CSV export -----------------------------------------------------------------------------


def rows_of(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_streams_every_matching_entry_in_batches(
    owner_client, organization, other_organization, customers, monkeypatch
):
    monkeypatch.setattr(audit, "EXPORT_BATCH", 7)
    made = [add(customers[i % 2], at=T0 + timedelta(seconds=i // 2)) for i in range(30)]
    add(CustomerFactory(organization=other_organization))
    response = owner_client.get(export_url(organization))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-acme-')
    rows = rows_of(response)
    assert list(rows[0]) == audit.CSV_COLUMNS
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    # Every entry once, however the batches fell across equal times.
    assert sorted(r["customer_id"] for r in rows) == sorted(str(e.customer_id) for e in made)
    assert len(rows) == 30
    assert rows[0]["created_at"] == "2026-10-01T12:00:14Z"


def test_the_export_takes_the_pages_filters(owner_client, organization, customers):
    ada, bob = customers
    add(ada, type_="order.paid")
    add(bob, type_="order.paid")
    add(ada)
    response = owner_client.get(
        export_url(organization), {"type": "order.paid", "customer": "usr_1"}
    )
    (row,) = rows_of(response)
    assert (row["type"], row["customer_email"], row["customer_external_id"]) == (
        "order.paid",
        "ada@example.com",
        "usr_1",
    )
    page = owner_client.get(log_url(organization, type="order.paid", customer="usr_1")).text
    assert f"{export_url(organization)}?type=order.paid&amp;customer=usr_1" in page


def test_export_cells_never_run_as_spreadsheet_formulas(owner_client, organization):
    customer = CustomerFactory(
        organization=organization, email="=cmd@example.com", external_id="+1"
    )
    add(
        customer,
        actor=("buyer", "", "@SUM(A1)"),
        request_id="-2+3",
        changes={"name": ["", '=HYPERLINK("http://x")'], "metadata.k": [None, "a;=1"]},
    )
    (row,) = rows_of(owner_client.get(export_url(organization)))
    assert row["customer_email"] == "'=cmd@example.com"
    assert row["customer_external_id"] == "'+1"
    assert row["actor_name"] == "'@SUM(A1)"
    assert row["request_id"] == "'-2+3"
    # The JSON of the changes begins with "{", and the piece after a ";" is made safe.
    assert row["changes"].startswith("{")
    assert ";'=1" in row["changes"]


def test_a_customer_filter_never_reaches_another_organizations_customer(
    owner_client, owner, organization, other_organization, customers
):
    theirs = CustomerFactory(organization=other_organization, external_id="usr_1")
    add(theirs)
    ours = add(customers[0], actor=("user", str(owner.pk), "owner"))
    add(customers[0])
    # usr_1 is ours too: only our customer's entries, and the actor filter still applies.
    response = owner_client.get(log_url(organization, customer="usr_1", actor=f"user:{owner.pk}"))
    assert ids_on(response.text) == [str(ours.pk)]
    response = owner_client.get(log_url(organization, customer=str(theirs.pk)))
    assert ids_on(response.text) == []


def test_settings_changes_are_in_the_log_without_a_customer(owner_client, owner, organization):
    owner_client.post(
        reverse("organizations:settings", args=[organization.slug]),
        {"name": "Acme", "timezone": "UTC", "currency": "eur"},
    )
    [entry] = Entry.objects.filter(organization=organization)
    assert (entry.type, entry.customer_id) == ("organization.updated", None)
    assert entry.changes == {"currency": ["usd", "eur"]}
    assert (entry.actor_type, entry.actor_id) == ("user", str(owner.pk))
    html = owner_client.get(log_url(organization)).text
    assert "organization.updated" in html and "Organization settings" in html
    assert "usd" in html and "eur" in html
    # The type filter offers it; the customer filter leaves it out.
    assert ids_on(owner_client.get(log_url(organization, type="organization.updated")).text) == [
        str(entry.pk)
    ]
    csv_text = b"".join(owner_client.get(export_url(organization)).streaming_content).decode()
    row = csv_text.splitlines()[1]
    assert "organization.updated,,," in row

"""`GET /v1/customers/{id}/timeline` and its external-ID twin: our extension of Polar's API,
keyset paged with an opaque cursor."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from activity.models import Entry
from config.api import api as ninja_api
from customers import services
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def add_entries(customer, count: int, *, type_="customer.updated", start=T0, step=60, **fields):
    entries = [
        Entry(
            organization_id=customer.organization_id,
            customer=customer,
            created_at=start + timedelta(seconds=step * i),
            type=type_,
            actor_type="system",
            actor_name="System",
            source="system",
            changes={"name": [f"n{i}", f"n{i + 1}"]},
            **fields,
        )
        for i in range(count)
    ]
    return Entry.objects.bulk_create(entries)


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, external_id="usr_1")


def test_an_entry_has_the_documented_shape(api, organization, token):
    customer = services.customer_create(
        organization=organization, email="ada@example.com", external_id="usr_7"
    )
    services.customer_update(customer=customer, metadata={"plan": "pro"})
    response = api.get(f"/v1/customers/{customer.pk}/timeline")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"next_cursor": None}
    updated, created = body["items"]
    entry = Entry.objects.get(customer=customer, type="customer.updated")
    assert updated == {
        "id": str(entry.pk),
        "type": "customer.updated",
        "created_at": entry.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": {"type": "system", "id": "", "name": "System"},
        "source": "system",
        "changes": {"metadata.plan": [None, "pro"]},
        "note": None,
    }
    assert created["type"] == "customer.created"
    assert list(updated) == ["id", "type", "created_at", "actor", "source", "changes", "note"]


def test_an_api_write_shows_the_token_as_actor(api, organization):
    response = api.post(
        "/v1/customers/", {"email": "b@example.com"}, content_type="application/json"
    )
    customer_id = response.json()["id"]
    (item,) = api.get(f"/v1/customers/{customer_id}/timeline").json()["items"]
    assert item["actor"]["type"] == "token"
    assert item["actor"]["name"] == "test"
    assert item["source"] == "api"


def test_the_external_id_twin_answers_the_same(api, customer):
    add_entries(customer, 3)
    by_id = api.get(f"/v1/customers/{customer.pk}/timeline").json()
    by_external_id = api.get("/v1/customers/external/usr_1/timeline").json()
    assert by_id == by_external_id
    assert len(by_id["items"]) == 3


def test_cursor_paging_walks_every_entry_exactly_once_newest_first(api, customer):
    # Ties on created_at too: the ID breaks them, so no entry is skipped or repeated.
    made = add_entries(customer, 17) + add_entries(
        customer, 6, start=T0 + timedelta(seconds=120), step=0
    )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        response = api.get(f"/v1/customers/{customer.pk}/timeline", params)
        assert response.status_code == 200
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    expected = sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)
    assert seen == [str(e.pk) for e in expected]


def test_limit_defaults_to_10_and_is_capped_at_100(api, customer):
    add_entries(customer, 105)
    url = f"/v1/customers/{customer.pk}/timeline"
    assert len(api.get(url).json()["items"]) == 10
    assert len(api.get(url, {"limit": 1000}).json()["items"]) == 100
    assert api.get(url, {"limit": 0}).status_code == 422


def test_it_filters_by_repeated_type_and_by_time(api, customer):
    add_entries(customer, 3, type_="order.paid")
    add_entries(customer, 2, type_="subscription.renewed", start=T0 + timedelta(hours=1))
    add_entries(customer, 4, type_="customer.updated", start=T0 + timedelta(hours=2))
    url = f"/v1/customers/{customer.pk}/timeline"
    types = [
        item["type"]
        for item in api.get(url, {"type": ["order.paid", "subscription.renewed"]}).json()["items"]
    ]
    assert sorted(types) == ["order.paid"] * 3 + ["subscription.renewed"] * 2
    window = {"start": "2026-10-01T13:00:00Z", "end": "2026-10-01T13:01:00Z"}
    items = api.get(url, window).json()["items"]
    assert [i["type"] for i in items] == ["subscription.renewed"] * 2
    # No offset means UTC; an offset is honoured.
    items = api.get(url, {"start": "2026-10-01T16:00:00+02:00"}).json()["items"]
    assert {i["type"] for i in items} == {"customer.updated"}


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-10-01", "yesterday"])
def test_start_and_end_must_be_iso_date_times(api, customer, value):
    for name in ("start", "end"):
        response = api.get(f"/v1/customers/{customer.pk}/timeline", {name: value})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", name]


def test_an_unknown_type_is_a_422(api, customer):
    response = api.get(f"/v1/customers/{customer.pk}/timeline", {"type": "password.changed"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["query", "type"]


@pytest.mark.parametrize(
    "cursor",
    ["zzz", "bm90IGpzb24", "WyJub3QgYSB0aW1lIiwiMSJd", "WzEsMl0", "x" * 201],
)
def test_a_bad_cursor_is_a_422_naming_cursor(api, customer, cursor):
    add_entries(customer, 2)
    response = api.get(f"/v1/customers/{customer.pk}/timeline", {"cursor": cursor})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "PolarRequestValidationError"
    assert body["detail"][0]["loc"] == ["query", "cursor"]


def test_another_organizations_customer_is_a_404(api, other_organization):
    theirs = CustomerFactory(organization=other_organization, external_id="usr_1")
    add_entries(theirs, 2)
    for url in (f"/v1/customers/{theirs.pk}/timeline", "/v1/customers/external/usr_1/timeline"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json() == {"error": "ResourceNotFound", "detail": "Not found"}


def test_an_outsiders_token_gets_a_404_for_our_customer(client, outsider_token, customer):
    add_entries(customer, 2)
    outsider = Client(headers={"Authorization": f"Bearer {outsider_token}"})
    assert outsider.get(f"/v1/customers/{customer.pk}/timeline").status_code == 404
    assert outsider.get("/v1/customers/external/usr_1/timeline").status_code == 404


def test_a_deleted_or_unknown_customer_is_a_404(api, customer):
    add_entries(customer, 2)
    services.customer_delete(customer=customer)
    assert api.get(f"/v1/customers/{customer.pk}/timeline").status_code == 404
    assert api.get("/v1/customers/external/usr_1/timeline").status_code == 404
    assert api.get("/v1/customers/not-a-uuid/timeline").status_code == 404


@pytest.mark.parametrize(
    ("scopes", "status"),
    [(["customers:read"], 200), (["customers:write"], 200), (["orders:read"], 403)],
)
def test_it_needs_a_customers_scope(make_token, organization, customer, scopes, status):
    client = Client(headers={"Authorization": f"Bearer {make_token(organization, scopes)}"})
    for url in (f"/v1/customers/{customer.pk}/timeline", "/v1/customers/external/usr_1/timeline"):
        response = client.get(url)
        assert response.status_code == status
        if status == 403:
            assert response.json()["error"] == "NotPermitted"


def test_no_token_is_a_401(client, customer):
    assert client.get(f"/v1/customers/{customer.pk}/timeline").status_code == 401


def test_a_page_is_three_queries_however_deep(api, customer, django_assert_num_queries):
    add_entries(customer, 60)
    url = f"/v1/customers/{customer.pk}/timeline"
    cursor = api.get(url, {"limit": 50}).json()["pagination"]["next_cursor"]
    # 1. the token (with its organization)  2. the customer, live and ours  3. the page
    with django_assert_num_queries(3):
        response = api.get(url, {"limit": 5, "cursor": cursor})
    assert len(response.json()["items"]) == 5


def test_the_document_tags_it_as_our_extension():
    document = ninja_api.get_openapi_schema()
    for path in ("/v1/customers/{id}/timeline", "/v1/customers/external/{external_id}/timeline"):
        assert document["paths"][path]["get"]["tags"] == ["timeline (extension)"]
    (tag,) = [t for t in document["tags"] if t["name"] == "timeline (extension)"]
    assert "not in Polar's API" in tag["description"]
    # Polar's own operations keep their tag.
    assert document["paths"]["/v1/customers/{id}"]["get"]["tags"] == ["customers"]


def test_polar_sdk_calls_are_untouched(sdk, organization):
    customer = CustomerFactory(organization=organization, external_id="usr_sdk")
    add_entries(customer, 2)
    assert sdk.customers.get(id=str(customer.pk)).external_id == "usr_sdk"
    assert sdk.customers.get_external(external_id="usr_sdk").id == str(customer.pk)
    state = sdk.customers.get_state(id=str(customer.pk))
    assert state.id == str(customer.pk)
    assert [c.id for c in sdk.customers.list().items] == [str(customer.pk)]


# --- Notes -------------------------------------------------------------------------------


def test_a_note_added_through_the_api_is_on_the_timeline_with_its_text(api, customer):
    response = api.post(
        f"/v1/customers/{customer.pk}/notes",
        {"body": "  Called about the invoice.\nWill pay Friday.  "},
        content_type="application/json",
    )
    assert response.status_code == 201
    note = response.json()
    assert list(note) == ["id", "customer_id", "body", "pinned", "created_at", "modified_at"]
    assert note["body"] == "Called about the invoice.\nWill pay Friday."
    assert (note["customer_id"], note["pinned"]) == (str(customer.pk), False)
    (item,) = api.get(f"/v1/customers/{customer.pk}/timeline").json()["items"]
    assert item["type"] == "note.added"
    assert (item["actor"]["type"], item["source"]) == ("token", "api")
    assert item["note"] == {"id": note["id"], "body": note["body"], "pinned": False}
    assert item["changes"] == {"body": [None, note["body"]]}


def test_a_note_is_edited_pinned_and_deleted(api, customer):
    base = f"/v1/customers/{customer.pk}/notes"
    note_id = api.post(base, {"body": "First"}, content_type="application/json").json()["id"]
    response = api.patch(
        f"{base}/{note_id}", {"body": "Second", "pinned": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["body"], response.json()["pinned"]) == ("Second", True)
    items = api.get(f"/v1/customers/{customer.pk}/timeline").json()["items"]
    assert [i["type"] for i in items] == ["note.pinned", "note.edited", "note.added"]
    # Every entry about the note shows it as it is now.
    assert {i["note"]["body"] for i in items} == {"Second"}
    assert api.delete(f"{base}/{note_id}").status_code == 204
    assert api.delete(f"{base}/{note_id}").status_code == 404
    items = api.get(f"/v1/customers/{customer.pk}/timeline").json()["items"]
    assert items[0]["type"] == "note.deleted"
    assert items[0]["changes"] == {"body": ["Second", None]}
    assert {i["note"] for i in items} == {None}  # the note is gone


def test_the_notes_external_id_twins(api, customer):
    base = "/v1/customers/external/usr_1/notes"
    response = api.post(base, {"body": "Hi"}, content_type="application/json")
    assert response.status_code == 201
    note_id = response.json()["id"]
    response = api.patch(f"{base}/{note_id}", {"pinned": True}, content_type="application/json")
    assert response.json()["pinned"] is True
    assert api.delete(f"{base}/{note_id}").status_code == 204
    assert not customer.notes.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [({"body": "   "}, "empty"), ({"body": "x" * 5001}, "at most 5,000"), ({}, "Field required")],
)
def test_a_bad_note_is_a_422_at_its_body(api, customer, body, message):
    response = api.post(f"/v1/customers/{customer.pk}/notes", body, content_type="application/json")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "body"]
    assert message in error["msg"]
    assert not customer.notes.exists()


def test_a_refused_pin_leaves_the_text_as_it_was(api, customer):
    base = f"/v1/customers/{customer.pk}/notes"
    ids = [
        api.post(base, {"body": f"n{i}"}, content_type="application/json").json()["id"]
        for i in range(6)
    ]
    for note_id in ids[:5]:
        api.patch(f"{base}/{note_id}", {"pinned": True}, content_type="application/json")
    response = api.patch(
        f"{base}/{ids[5]}", {"body": "changed", "pinned": True}, content_type="application/json"
    )
    assert response.status_code == 422
    assert customer.notes.get(pk=ids[5]).body == "n5"


def test_another_customers_or_organizations_note_is_a_404(
    api, organization, other_organization, customer
):
    from activity.services import note_add

    sibling = CustomerFactory(organization=organization)
    theirs = CustomerFactory(organization=other_organization, external_id="usr_1")
    for note in (note_add(customer=sibling, body="sibling"), note_add(customer=theirs, body="x")):
        for method in ("patch", "delete"):
            response = getattr(api, method)(
                f"/v1/customers/{customer.pk}/notes/{note.pk}",
                {"body": "Hijacked"},
                content_type="application/json",
            )
            assert response.status_code == 404
    assert (
        api.post(
            f"/v1/customers/{theirs.pk}/notes", {"body": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert sorted(n.body for n in sibling.notes.all()) == ["sibling"]
    assert [n.body for n in theirs.notes.all()] == ["x"]


def test_writing_notes_needs_customers_write(make_token, organization, customer):
    from activity.services import note_add

    note = note_add(customer=customer, body="Ours")
    client = Client(
        headers={"Authorization": f"Bearer {make_token(organization, ['customers:read'])}"}
    )
    base = f"/v1/customers/{customer.pk}/notes"
    for method, url in (
        ("post", base),
        ("patch", f"{base}/{note.pk}"),
        ("delete", f"{base}/{note.pk}"),
    ):
        response = getattr(client, method)(url, {"body": "x"}, content_type="application/json")
        assert response.status_code == 403
    note.refresh_from_db()
    assert note.body == "Ours"


def test_a_page_with_notes_reads_them_in_one_more_query(api, customer, django_assert_num_queries):
    from activity.services import note_add

    for i in range(4):
        note_add(customer=customer, body=f"n{i}")
    add_entries(customer, 3, start=datetime(2020, 1, 1, tzinfo=UTC))
    url = f"/v1/customers/{customer.pk}/timeline"
    api.get(url)  # the token's first use also records it (last_used_at)
    # 1. the token  2. the customer  3. the page  4. the page's notes
    with django_assert_num_queries(4):
        response = api.get(url, {"limit": 100})
    assert sum(1 for i in response.json()["items"] if i["note"]) == 4

"""Notes on a customer: members add them and edit or delete their own, owners delete any;
plain text (escaped, line breaks kept, links clickable), at most 5,000 characters; each
write leaves its note.* entry in its own transaction; pinned notes head the page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from activity import services
from activity.models import Entry, Note
from core.changes import Actor, acting
from customers import services as customer_services
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization)


def membership_of(user):
    return user.memberships.get()


def url(name: str, customer, note=None) -> str:
    args = [customer.organization.slug, customer.pk] + ([note.pk] if note else [])
    return reverse(f"activity:{name}", args=args)


def note_by(user, customer, body="Prefers email.") -> Note:
    return services.note_add(customer=customer, body=body, member=membership_of(user))


def note_entries(customer) -> list[Entry]:
    return list(
        Entry.objects.filter(customer=customer, type__startswith="note.").order_by("created_at")
    )


# --- Services -----------------------------------------------------------------------------


def test_adding_a_note_leaves_an_entry_with_its_text_and_author(member, customer):
    with acting(actor=Actor("user", str(member.pk), "Mia Member"), source="dashboard"):
        note = note_by(member, customer, "  Call before renewing.\r\nAsk for Ada.  ")
    assert note.body == "Call before renewing.\nAsk for Ada."  # CRLF kept as one line break
    assert (note.author, note.author_name, note.pinned) == (member, "Mia Member", False)
    (entry,) = note_entries(customer)
    assert (entry.type, entry.subject_id, entry.actor_name) == ("note.added", note.pk, "Mia Member")
    assert entry.changes == {"body": [None, "Call before renewing.\nAsk for Ada."]}


def test_editing_deleting_and_pinning_leave_their_entries(owner, customer):
    note = note_by(owner, customer, "v1")
    services.note_edit(note=note, body="v2", member=membership_of(owner))
    services.note_edit(note=note, body="v2", member=membership_of(owner))  # no change, no entry
    services.note_pin(note=note, pinned=True, member=membership_of(owner))
    services.note_pin(note=note, pinned=False, member=membership_of(owner))
    services.note_delete(note=note, member=membership_of(owner))
    assert [(e.type, e.changes) for e in note_entries(customer)] == [
        ("note.added", {"body": [None, "v1"]}),
        ("note.edited", {"body": ["v1", "v2"]}),
        ("note.pinned", {"pinned": [False, True]}),
        ("note.unpinned", {"pinned": [True, False]}),
        ("note.deleted", {"body": ["v2", None]}),
    ]
    assert not Note.objects.exists()
    assert {e.subject_id for e in note_entries(customer)} == {note.id}


@pytest.mark.parametrize("body", ["", "   \n  ", "a\x00b"])
def test_an_empty_note_or_a_nul_character_is_refused(member, customer, body):
    with pytest.raises(ValidationError) as error:
        note_by(member, customer, body)
    assert "body" in error.value.message_dict
    assert not Note.objects.exists() and not Entry.objects.exists()


def test_a_note_may_have_5000_characters_and_not_one_more(member, customer):
    assert len(note_by(member, customer, "x" * 5000).body) == 5000
    with pytest.raises(ValidationError) as error:
        note_by(member, customer, "x" * 5001)
    assert error.value.message_dict["body"] == [
        "The note is 5,001 characters long; a note can be at most 5,000."
    ]
    # Line breaks count once, as the browser counts them.
    assert len(note_by(member, customer, ("x" * 99 + "\r\n") * 50).body) == 4999
    assert Note.objects.count() == 2


def test_the_database_refuses_a_longer_note_too(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Note.objects.create(
            organization_id=customer.organization_id, customer=customer, body="x" * 5001
        )


def test_a_failing_write_leaves_neither_note_nor_entry(member, customer):
    with pytest.raises(RuntimeError), transaction.atomic():
        note_by(member, customer, "Rolled back")
        raise RuntimeError("the caller's transaction fails after the note")
    assert not Note.objects.exists()
    assert not Entry.objects.exists()
    note = note_by(member, customer, "kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.note_edit(note=note, body="rolled back", member=membership_of(member))
        raise RuntimeError
    note.refresh_from_db()
    assert note.body == "kept"
    assert [e.type for e in note_entries(customer)] == ["note.added"]


def test_only_the_author_edits_and_owners_may_delete_or_pin_any(owner, member, customer):
    other_member = MembershipFactory(organization=customer.organization, role="member").user
    note = note_by(member, customer)
    for user in (owner, other_member):
        with pytest.raises(PermissionDenied):
            services.note_edit(note=note, body="changed", member=membership_of(user))
    with pytest.raises(PermissionDenied):
        services.note_delete(note=note, member=membership_of(other_member))
    with pytest.raises(PermissionDenied):
        services.note_pin(note=note, pinned=True, member=membership_of(other_member))
    services.note_pin(note=note, pinned=True, member=membership_of(owner))
    services.note_delete(note=note, member=membership_of(owner))
    assert not Note.objects.exists()


def test_a_member_of_another_organization_cannot_add_a_note(outsider, customer):
    with pytest.raises(PermissionDenied):
        note_by(outsider, customer)
    assert not Note.objects.exists()


def test_at_most_five_notes_are_pinned(owner, customer):
    notes = [note_by(owner, customer, f"n{i}") for i in range(6)]
    for note in notes[:5]:
        services.note_pin(note=note, pinned=True, member=membership_of(owner))
    with pytest.raises(ValidationError, match="unpin one first"):
        services.note_pin(note=notes[5], pinned=True, member=membership_of(owner))


@pytest.mark.django_db(transaction=True)
def test_two_pins_at_once_never_pass_the_limit(postgres_only, owner, customer):
    import threading

    from django.db import connection

    notes = [note_by(owner, customer, f"n{i}") for i in range(6)]
    for note in notes[:4]:
        services.note_pin(note=note, pinned=True, member=membership_of(owner))
    barrier, results = threading.Barrier(2), []

    def pin(note):
        try:
            barrier.wait()
            services.note_pin(note=note, pinned=True, member=membership_of(owner))
            results.append("pinned")
        except ValidationError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=pin, args=(n,)) for n in notes[4:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["pinned", "refused"]
    assert Note.objects.filter(customer=customer, pinned=True).count() == 5


def test_an_api_token_may_write_notes_with_no_member(organization, customer):
    with acting(actor=Actor("token", "tok_1", "CRM sync"), source="api"):
        note = services.note_add(customer=customer, body="From the CRM.")
        services.note_edit(note=note, body="From the CRM, edited.")
    assert (note.author, note.author_name) == (None, "CRM sync")
    assert [e.actor_name for e in note_entries(customer)] == ["CRM sync", "CRM sync"]


def test_notes_are_never_sent_by_webhooks(member, customer, organization):
    from webhooks.models import WebhookEndpoint, WebhookEvent

    WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=["customer.updated"]
    )
    note = note_by(member, customer)
    services.note_edit(note=note, body="edited", member=membership_of(member))
    services.note_delete(note=note, member=membership_of(member))
    assert not WebhookEvent.objects.exists()


def test_anonymizing_the_customer_deletes_their_notes_and_scrubs_the_text(member, customer):
    note = note_by(member, customer, "Lives at 12 St James's Square")
    services.note_edit(note=note, body="Moved to Marylebone", member=membership_of(member))
    customer_services.customer_delete(customer=customer, anonymize=True)
    assert not Note.objects.exists()
    for entry in note_entries(customer):
        assert "Marylebone" not in str(entry.changes) and "James" not in str(entry.changes)


# --- Pages ----------------------------------------------------------------------------------


@pytest.fixture
def as_member(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client


def test_a_member_adds_a_note_and_the_panel_comes_back_with_it(as_member, customer):
    response = as_member.post(
        url("note_add", customer), {"body": "Line one\nLine two"}, headers=HTMX
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#activity"
    html = response.text
    assert html.lstrip().startswith('<div id="activity"')
    assert "Line one<br>Line two" in html
    assert 'role="status">Note added.' in html
    note = Note.objects.get()
    assert note.author.username == "member"
    assert f'id="note-{note.pk}"' in html
    assert ">Edit</a>" in html and ">Delete</a>" in html and "Pin to top" in html


def test_without_javascript_adding_a_note_redirects_to_the_timeline(as_member, customer):
    response = as_member.post(url("note_add", customer), {"body": "Hello"}, follow=True)
    assert response.redirect_chain == [(url("timeline", customer), 302)]
    assert "Note added." in response.text and "Hello" in response.text


def test_a_note_is_escaped_and_its_links_become_clickable(as_member, customer):
    body = '<script>alert("x")</script> <b>bold</b> see https://example.com/a?b=1&c=2'
    as_member.post(url("note_add", customer), {"body": body})
    html = as_member.get(url("timeline", customer)).text
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow">' in html


def test_a_too_long_note_comes_back_with_the_error_beside_the_field(as_member, customer):
    body = "y" * 5001
    response = as_member.post(url("note_add", customer), {"body": body}, headers=HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#note-add"
    html = response.text
    assert html.lstrip().startswith('<form id="note-add"')
    assert (
        'aria-invalid="true"' in html and 'aria-describedby="note-add-error note-add-help"' in html
    )
    assert 'id="note-add-error">The note is 5,001 characters long' in html
    assert body in html  # what was typed is kept
    assert not Note.objects.exists()
    # Without JavaScript: the whole page, with the same error.
    page = as_member.post(url("note_add", customer), {"body": body})
    assert page.status_code == 422
    assert "<h1>Timeline and notes" in page.text and "5,001 characters" in page.text


def test_the_author_edits_in_place(as_member, member, customer):
    note = note_by(member, customer, "before")
    form = as_member.get(url("note_edit", customer, note), headers=HTMX)
    assert form.status_code == 200
    assert form.text.lstrip().startswith(f'<article class="note note-edit" id="note-{note.pk}"')
    assert ">before</textarea>" in form.text
    saved = as_member.post(url("note_edit", customer, note), {"body": "after"}, headers=HTMX)
    assert saved["HX-Retarget"] == "#activity" and "Note saved." in saved.text
    note.refresh_from_db()
    assert note.body == "after"
    error = as_member.post(url("note_edit", customer, note), {"body": ""}, headers=HTMX)
    assert error.status_code == 422
    assert "Write the note first" in error.text and "HX-Retarget" not in error


def test_editing_without_javascript_is_a_page_of_its_own(as_member, member, customer):
    note = note_by(member, customer, "before")
    page = as_member.get(url("note_edit", customer, note))
    assert "<h1>Note about" in page.text and "hx-post" not in page.text.split("<main")[1]
    response = as_member.post(url("note_edit", customer, note), {"body": "after"}, follow=True)
    assert response.redirect_chain[-1][0] == url("timeline", customer)
    assert "Note saved." in response.text


@pytest.mark.parametrize("route", ["note_edit", "note_delete", "note_pin"])
def test_another_member_may_not_touch_a_members_note(client, member, customer, route):
    note = note_by(member, customer, "mine")
    client.force_login(MembershipFactory(organization=customer.organization, role="member").user)
    assert client.get(url(route, customer, note)).status_code in (403, 405)
    assert client.post(url(route, customer, note), {"body": "x", "pinned": "1"}).status_code == 403
    note.refresh_from_db()
    assert (note.body, note.pinned) == ("mine", False)


def test_an_owner_may_delete_but_not_edit_a_members_note(as_owner, member, customer):
    note = note_by(member, customer, "theirs")
    html = as_owner.get(url("timeline", customer)).text
    assert ">Edit</a>" not in html and ">Delete</a>" in html
    assert as_owner.post(url("note_edit", customer, note), {"body": "x"}).status_code == 403
    confirm = as_owner.get(url("note_delete", customer, note), headers=HTMX)
    assert "Delete this note?" in confirm.text
    response = as_owner.post(url("note_delete", customer, note), headers=HTMX)
    assert "Note deleted." in response.text
    assert not Note.objects.exists()
    assert "Note deleted" in response.text and '<del class="old text">theirs</del>' in response.text


def test_a_pinned_note_heads_the_panel(as_owner, owner, customer):
    note = note_by(owner, customer, "VIP: call first")
    response = as_owner.post(url("note_pin", customer, note), {"pinned": "1"}, headers=HTMX)
    html = response.text
    assert 'id="pinned-notes"' in html
    assert html.index('id="pinned-notes"') < html.index('id="timeline"')
    assert f'id="pinned-{note.pk}"' in html and "Unpin" in html
    note.refresh_from_db()
    assert note.pinned
    response = as_owner.post(url("note_pin", customer, note), {"pinned": "0"}, headers=HTMX)
    assert 'id="pinned-notes"' not in response.text


def test_an_entry_about_a_note_links_to_it(as_member, member, customer):
    note = note_by(member, customer, "v1")
    services.note_edit(note=note, body="v2", member=membership_of(member))
    html = as_member.get(url("timeline", customer)).text
    assert f'<a href="{url("note", customer, note)}">Open the note</a>' in html
    page = as_member.get(url("note", customer, note))
    assert page.status_code == 200 and "v2" in page.text
    # Its own page: plain links and forms (the panel its fragments swap into is not there).
    assert ">Edit</a>" in page.text and "hx-" not in page.text.split("<main")[1]


@pytest.mark.parametrize("route", ["note", "note_edit", "note_delete", "note_pin"])
def test_an_outsider_gets_404_and_the_note_is_untouched(client, outsider, member, customer, route):
    note = note_by(member, customer, "ours")
    client.force_login(outsider)
    assert client.get(url(route, customer, note)).status_code in (404, 405)
    assert client.post(url(route, customer, note), {"body": "x", "pinned": "1"}).status_code in (
        404,
        405,
    )
    assert client.post(url("note_add", customer), {"body": "theirs"}).status_code == 404
    note.refresh_from_db()
    assert (note.body, note.pinned) == ("ours", False)
    assert Note.objects.count() == 1


@pytest.mark.parametrize("route", ["note", "note_edit", "note_delete", "note_pin"])
def test_anonymous_visitors_are_sent_to_sign_in(client, member, customer, route):
    note = note_by(member, customer, "ours")
    response = client.post(url(route, customer, note), {"body": "x"})
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert response.url.startswith(reverse("login"))
    assert client.post(url("note_add", customer), {"body": "x"}).status_code == 302
    assert Note.objects.get().body == "ours"


def test_a_note_of_another_customer_is_404_under_this_one(
    as_member, member, organization, customer
):
    other = CustomerFactory(organization=organization)
    note = note_by(member, other)
    assert as_member.get(url("note", customer, note)).status_code == 404
    assert as_member.post(url("note_delete", customer, note)).status_code == 404
    assert Note.objects.count() == 1


def test_a_note_deleted_meanwhile_is_404(as_member, member, customer):
    note = note_by(member, customer)
    Note.objects.filter(pk=note.pk).delete()
    assert as_member.post(url("note_edit", customer, note), {"body": "x"}).status_code == 404

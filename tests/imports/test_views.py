"""Customers → Import on the dashboard: the upload page and the import's own page through
its statuses, each route refused to anonymous visitors and to other organizations."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from customers import services as customer_services
from customers.models import Customer
from imports.models import CustomerImport
from tests.factories import CustomerFactory
from tests.imports.conftest import refreshed, run_all

pytestmark = pytest.mark.django_db

FILE = (
    "email,external_id,name,metadata.plan\n"
    "ada@example.com,u1,Ada Lovelace,pro\n"
    "bo@example.com,,Bo,\n"
    "cy@example.com,u3,Cy,team\n"
)
# Row 3 claims an email another customer already has under a different external ID.
FILE_WITH_ERROR = (
    "email,external_id,name\n"
    "ada@example.com,u1,Ada Lovelace\n"
    "taken@example.com,u2,Taken\n"
    "cy@example.com,u3,Cy\n"
)


def upload_url(org_slug="acme"):
    return reverse("imports:upload", args=[org_slug])


def url(name, customer_import, org_slug="acme"):
    return reverse(f"imports:{name}", args=[org_slug, customer_import.pk])


def csv_file(text, name="customers.csv"):
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def upload(client, text, **options):
    data = {
        "match": "external_id",
        "mode": "upsert",
        "metadata_mode": "merge",
        "blank": "keep",
        "file": csv_file(text),
        **options,
    }
    return client.post(upload_url(), data)


@pytest.fixture
def ready_import(start_import):
    customer_import = start_import(FILE)
    run_all()
    return refreshed(customer_import)


@pytest.fixture
def import_with_errors(organization, start_import):
    CustomerFactory(organization=organization, email="taken@example.com", external_id="other")
    customer_import = start_import(FILE_WITH_ERROR)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.counts["error"] == 1
    return customer_import


# --- Access: every route --------------------------------------------------------------

ROUTES = [
    ("upload", "get"),
    ("detail", "get"),
    ("remap", "post"),
    ("apply", "post"),
    ("cancel", "post"),
    ("errors_csv", "get"),
]


def route_url(name, customer_import):
    return upload_url() if name == "upload" else url(name, customer_import)


@pytest.mark.parametrize(("name", "method"), ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(client, ready_import, name, method):
    response = getattr(client, method)(route_url(name, ready_import))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("name", "method"), ROUTES)
def test_outsiders_get_404_and_change_nothing(client, outsider, ready_import, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(route_url(name, ready_import), {"skip_errors": "on"})
    assert response.status_code == 404
    assert refreshed(ready_import).status == CustomerImport.Status.READY


@pytest.mark.parametrize(("name", "method"), [r for r in ROUTES if r[0] != "upload"])
def test_an_import_of_another_organization_is_404_under_my_own_slug(
    client, owner, other_organization, start_import, name, method
):
    theirs = start_import(FILE, org=other_organization)
    client.force_login(owner)
    response = getattr(client, method)(route_url(name, theirs))
    assert response.status_code == 404
    assert refreshed(theirs).status == CustomerImport.Status.VALIDATING


@pytest.mark.parametrize("user", ["owner", "member"])
@pytest.mark.parametrize("name", [n for n, m in ROUTES if m == "get"])
def test_owners_and_members_can_open_every_page(client, request, ready_import, user, name):
    client.force_login(request.getfixturevalue(user))
    assert client.get(route_url(name, ready_import)).status_code == 200


# --- Upload ---------------------------------------------------------------------------


def test_an_upload_is_stored_with_its_options_and_opens_its_page(client, member, organization):
    client.force_login(member)
    response = upload(
        client, FILE, match="email", mode="create", metadata_mode="replace", blank="clear",
        no_webhooks="on",
    )  # fmt: skip
    customer_import = CustomerImport.objects.get()
    assert response.status_code == 302
    assert response.url == url("detail", customer_import)
    assert customer_import.organization == organization
    assert (customer_import.match, customer_import.mode) == ("email", "create")
    assert (customer_import.metadata_mode, customer_import.blank) == ("replace", "clear")
    assert customer_import.send_webhooks is False
    assert customer_import.filename == "customers.csv"
    assert customer_import.actor_name == "member"
    assert customer_import.status == CustomerImport.Status.VALIDATING


def test_the_upload_page_lists_the_organizations_recent_imports(
    client, member, ready_import, other_organization, start_import
):
    start_import("email\nx@example.com\n", org=other_organization).filename  # noqa: B018
    client.force_login(member)
    response = client.get(upload_url())
    assert [i.pk for i in response.context["recent"]] == [ready_import.pk]
    assert b"Ready to apply" in response.content
    assert b"3 to create" in response.content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),  # Django's FileField says it first
        (b"\n\n", "The file is empty."),
        ("ada@example.com,Ada\n", "looks like data"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary file"),
        ("email,name\n".encode("utf-16"), "UTF-16"),
        ("email,name\ncafé@example.com,Zoë\n".encode("cp1252"), "not UTF-8"),
    ],
    ids=["empty", "blank-lines", "no-header", "binary", "utf-16", "windows-1252"],
)
def test_a_file_we_cannot_read_is_refused_beside_the_file_field(client, member, data, message):
    client.force_login(member)
    response = upload(client, data)
    assert response.status_code == 422
    errors = response.context["form"].errors["file"]
    assert any(message in e for e in errors), errors
    assert b'class="field form-field invalid"' in response.content
    assert not CustomerImport.objects.exists()


def test_a_file_over_the_limit_is_refused_as_it_streams_in(client, member, settings):
    settings.IMPORT_MAX_BYTES = 100
    client.force_login(member)
    response = upload(client, FILE + "dy@example.com,u4,Dy,pro\n" * 10, mode="create")
    assert response.status_code == 422
    assert response.context["form"].errors["file"] == [
        "The file is larger than the 100\xa0bytes an import takes; split it into several files."
    ]
    assert not CustomerImport.objects.exists()


def test_the_size_limit_counts_the_file_not_the_declared_length(client, member, settings):
    # Within the limit plus the form's allowance, the handler counts the file's own bytes.
    settings.IMPORT_MAX_BYTES = len(FILE) - 1
    client.force_login(member)
    response = upload(client, FILE)
    assert "larger than" in response.context["form"].errors["file"][0]
    settings.IMPORT_MAX_BYTES = len(FILE)
    assert upload(client, FILE).status_code == 302


def test_an_upload_without_a_csrf_token_is_refused(member):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = upload(client, FILE)
    assert response.status_code == 403
    assert not CustomerImport.objects.exists()


# --- The import's page ----------------------------------------------------------------


def test_while_it_is_checked_the_page_shows_a_progress_bar_that_polls(client, member, start_import):
    customer_import = start_import(FILE)
    client.force_login(member)
    response = client.get(url("detail", customer_import))
    content = response.content.decode()
    assert 'hx-trigger="every 1s"' in content
    assert "<progress" in content
    assert "Checking the file" in content
    assert "Cancel import" in content
    # The poll gets the status part alone, until the import is ready: then it stops polling.
    poll = client.get(url("detail", customer_import), headers={"HX-Request": "true"})
    assert poll.content.decode().lstrip().startswith('<div id="import-status"')
    assert "HX-Request" in poll["Vary"]
    run_all()
    poll = client.get(url("detail", customer_import), headers={"HX-Request": "true"})
    assert "every 1s" not in poll.content.decode()
    assert "To create" in poll.content.decode()


def test_a_ready_import_shows_counts_mapping_changes_and_errors(
    client, member, organization, import_with_errors
):
    ada = CustomerFactory(organization=organization, email="ada@example.com", external_id="u1")
    from imports import services

    customer_import = services.import_remap(
        customer_import=import_with_errors, mapping={"name": "name"}
    )
    run_all()
    customer_import = refreshed(customer_import)
    client.force_login(member)
    response = client.get(url("detail", customer_import))
    content = response.content.decode()
    assert response.context["counts"] == {"create": 1, "update": 1, "unchanged": 0, "error": 1}
    assert "every 1s" not in content
    # The diff: Ada's name, old → new, linking to her page.
    assert reverse("customers:detail", args=["acme", ada.pk]) in content
    assert "<ins>Ada Lovelace</ins>" in content
    # The error at its row and column, with the rejected rows' download.
    errors = response.context["errors"]
    assert [e.row for e in errors] == [3]
    assert escape(errors[0].message) in content
    assert "Download rejected rows (CSV)" in content
    # The mapping form: a select per column, the current target chosen.
    form = response.context["mapping_form"]
    assert form["target_0"].value() == "email"
    assert "metadata.email" in dict(form.fields["target_0"].choices)
    assert "ignore" in dict(form.fields["target_0"].choices)


def test_the_apply_is_refused_while_errors_exist_beside_the_checkbox(
    client, member, import_with_errors
):
    client.force_login(member)
    response = client.post(url("apply", import_with_errors))
    assert response.status_code == 422
    assert response.context["apply_form"].errors["skip_errors"] == [
        "1 row(s) have errors: fix them and upload the file again, or skip those rows."
    ]
    assert refreshed(import_with_errors).status == CustomerImport.Status.READY
    # The same over HTMX: the status part with the message.
    response = client.post(url("apply", import_with_errors), headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "1 row(s) have errors" in response.content.decode()


def test_skipping_the_rows_with_errors_applies_the_rest(
    client, member, organization, import_with_errors
):
    client.force_login(member)
    response = client.post(
        url("apply", import_with_errors), {"skip_errors": "on", "no_webhooks": "on"}
    )
    assert response.status_code == 302
    customer_import = refreshed(import_with_errors)
    assert customer_import.status == CustomerImport.Status.APPLYING
    assert (customer_import.skip_errors, customer_import.send_webhooks) == (True, False)
    run_all()
    response = client.get(url("detail", customer_import))
    content = response.content.decode()
    assert response.context["counts"]["created"] == 2
    assert response.context["counts"]["skipped"] == 1
    created = Customer.objects.for_org(organization).filter(
        email__in=["ada@example.com", "cy@example.com"]
    )
    for customer in created:
        assert reverse("customers:detail", args=["acme", customer.pk]) in content
    assert "Skipped rows" in content
    assert escape(refreshed(import_with_errors).errors.get().message) in content


def test_a_done_import_lists_created_and_updated_customers(
    client, member, organization, ready_import
):
    ada = customer_services.customer_create(
        organization=organization, email="ada@example.com", external_id="u1", name="Ada"
    )
    from imports import services

    services.import_remap(customer_import=ready_import, mapping={"name": "name"})
    run_all()
    services.import_apply(customer_import=refreshed(ready_import))
    run_all()
    client.force_login(member)
    response = client.get(url("detail", ready_import))
    groups = {g["id"]: g for g in response.context["imported"]}
    assert [c.email for c in groups["created"]["customers"]] == ["bo@example.com", "cy@example.com"]
    assert [c.pk for c in groups["updated"]["customers"]] == [ada.pk]
    content = response.content.decode()
    assert "Import done" in content
    assert 'value="100"' in content
    assert reverse("customers:detail", args=["acme", ada.pk]) in content


def test_changing_the_mapping_checks_the_file_again(client, member, ready_import):
    client.force_login(member)
    data = {f"target_{i}": t for i, t in enumerate(["email", "external_id", "ignore", "ignore"])}
    data |= {f"type_{i}": "inferred" for i in range(4)}
    response = client.post(url("remap", ready_import), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.content.decode()
    customer_import = refreshed(ready_import)
    assert customer_import.status == CustomerImport.Status.VALIDATING
    assert [c["target"] for c in customer_import.mapping] == [
        "email", "external_id", "ignore", "ignore"
    ]  # fmt: skip
    run_all()
    assert refreshed(ready_import).status == CustomerImport.Status.READY


def test_a_mapping_without_email_or_external_id_is_refused_with_the_reason(
    client, member, ready_import
):
    client.force_login(member)
    data = {f"target_{i}": "ignore" for i in range(4)} | {f"type_{i}": "text" for i in range(4)}
    response = client.post(url("remap", ready_import), data)
    assert response.status_code == 422
    assert "Map a column to email or to external ID" in response.content.decode()
    assert refreshed(ready_import).status == CustomerImport.Status.READY


def test_a_metadata_column_may_be_given_a_type(client, member, ready_import):
    client.force_login(member)
    data = {"target_0": "email", "target_1": "external_id", "target_2": "name"}
    data |= {"target_3": "metadata.plan", "type_3": "text"}
    data |= {f"type_{i}": "inferred" for i in range(3)}
    assert client.post(url("remap", ready_import), data).status_code == 302
    assert refreshed(ready_import).mapping[3]["metadata_type"] == "text"


def test_cancel_stops_an_import_and_says_so(client, member, start_import):
    customer_import = start_import(FILE)
    client.force_login(member)
    response = client.post(url("cancel", customer_import))
    assert response.status_code == 302
    assert refreshed(customer_import).status == CustomerImport.Status.CANCELED
    page = client.get(url("detail", customer_import)).content.decode()
    assert "The import was canceled" in page
    assert "every 1s" not in page
    # Canceling it again says it is canceled already.
    response = client.post(url("cancel", customer_import), headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "canceled already" in response.content.decode()


def test_a_failed_import_shows_its_failure(client, member, ready_import):
    CustomerImport.objects.filter(pk=ready_import.pk).update(
        status="failed", failure="The file could not be read: Row 9 is not UTF-8."
    )
    client.force_login(member)
    content = client.get(url("detail", ready_import)).content.decode()
    assert "The import failed." in content
    assert "Row 9 is not UTF-8." in content


def test_the_rejected_rows_download_as_csv_with_their_error(client, member, import_with_errors):
    client.force_login(member)
    response = client.get(url("errors_csv", import_with_errors))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == ('attachment; filename="customers-rejected-rows.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["email", "external_id", "name", "error"],
        [
            "taken@example.com",
            "u2",
            "Taken",
            "external_id: " + import_with_errors.errors.get().message,
        ],
    ]


def test_the_import_page_of_a_ready_import_takes_five_queries(
    client, member, import_with_errors, django_assert_num_queries
):
    client.force_login(member)
    with django_assert_num_queries(5):
        # 1 the session, 2 the user, 3 the user's memberships (and organizations), 4 the
        # import, 5 the first page of its errors
        response = client.get(url("detail", import_with_errors))
    assert response.status_code == 200


def test_the_import_page_of_a_done_import_takes_seven_queries(
    client, member, ready_import, django_assert_num_queries
):
    from imports import services

    services.import_apply(customer_import=ready_import)
    run_all()
    client.force_login(member)
    with django_assert_num_queries(7):
        # 1 the session, 2 the user, 3 the memberships, 4 the import, 5 its errors (the
        # skipped rows), 6 the customers it created, 7 the customers it updated
        response = client.get(url("detail", ready_import))
    assert len(response.context["imported"][0]["customers"]) == 3


def test_the_progress_poll_takes_four_queries(
    client, member, start_import, django_assert_num_queries
):
    customer_import = start_import(FILE)
    client.force_login(member)
    with django_assert_num_queries(4):
        # 1 the session, 2 the user, 3 the memberships, 4 the import
        client.get(url("detail", customer_import), headers={"HX-Request": "true"})


def test_the_upload_page_takes_four_queries(
    client, member, ready_import, django_assert_num_queries
):
    client.force_login(member)
    with django_assert_num_queries(4):
        # 1 the session, 2 the user, 3 the memberships, 4 the recent imports
        client.get(upload_url())

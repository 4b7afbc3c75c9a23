"""`manage.py import_customers`: the dry run's counts and errors, then the apply."""

import io

import pytest
from django.core.management import CommandError, call_command

from activity.models import Entry
from customers import services as customer_services
from customers.export import csv_pieces
from customers.models import Customer
from imports.models import CustomerImport

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_checks_then_applies_with_a_progress_bar(organization, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Email,First Name,Last Name\nada@example.com,Ada,Lovelace\n")
    out, err = run(str(path), "--organization", "acme")
    assert "To create 1, to update 0, unchanged 0, rows with errors 0." in out
    assert "Done: created 1, updated 0, skipped 0." in out
    assert "Applying [" in err and "100%" in err
    assert Customer.objects.get().name == "Ada Lovelace"
    entry = Entry.objects.get()
    assert (entry.source, entry.actor_name) == ("import", "manage.py import_customers")
    assert entry.request_id == str(CustomerImport.objects.get().pk)


def test_a_dry_run_writes_nothing_and_errors_are_listed_with_row_and_column(organization, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("email,name\nada@example.com,Ada\nnope,Bo\n")
    out, _ = run(str(path), "--organization", "acme", "--dry-run")
    assert "row 3, email: Enter a valid email address." in out
    assert "Dry run: nothing was written." in out
    assert not Customer.objects.exists()
    with pytest.raises(CommandError, match="1 row\\(s\\) have errors"):
        run(str(path), "--organization", "acme")
    assert not Customer.objects.exists()
    out, _ = run(str(path), "--organization", "acme", "--skip-errors")
    assert "created 1, updated 0, skipped 1" in out


def test_bad_arguments_say_what_is_wrong(organization, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.csv"), "--organization", "acme")
    path = tmp_path / "people.csv"
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(CommandError, match="binary file"):
        run(str(path), "--organization", "acme")
    with pytest.raises(CommandError, match="No organization"):
        run(str(path), "--organization", "nobody")


def test_export_edit_in_a_spreadsheet_and_reimport_applies_exactly_the_edits(
    organization, tmp_path
):
    ada = customer_services.customer_create(
        organization=organization,
        email="ada@example.com",
        external_id="u1",
        name="=Ada",  # the export guards it as '=Ada; re-imported it stays =Ada
        metadata={"plan": "free", "seats": 2},
    )
    customer_services.customer_create(organization=organization, email="bo@example.com")
    exported = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()
    lines = exported.splitlines()
    # The spreadsheet edit: Ada's plan goes from free to pro, nothing else.
    edited = [line.replace('""plan"": ""free""', '""plan"": ""pro""') for line in lines]
    assert edited != lines
    path = tmp_path / "edited.csv"
    path.write_text("\n".join(edited) + "\n")
    out, _ = run(str(path), "--organization", "acme")
    assert "to update 1, unchanged 1" in out
    ada.refresh_from_db()
    assert ada.name == "=Ada" and ada.metadata == {"plan": "pro", "seats": 2}
    entry = Entry.objects.get(source="import")
    assert entry.changes == {"metadata.plan": ["free", "pro"]}

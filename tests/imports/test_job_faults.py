"""The import job under faults: a worker killed mid-apply, two workers, a cancel during
the apply, a customer edited between the preview and the apply, the database refusing a
batch, webhooks on and off."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from activity.models import Entry
from customers import services as customer_services
from customers.models import Customer
from imports import jobs, services
from imports.apply import CHANGED_SINCE
from imports.models import CustomerImport, ImportRowError
from imports.plan import Planner
from tests.imports.conftest import refreshed, run_all
from webhooks.models import EventType, WebhookEndpoint, WebhookEvent


def rows(n: int, start: int = 0) -> str:
    return "email,external_id,name\n" + "".join(
        f"p{i}@example.com,x{i},Person {i}\n" for i in range(start, start + n)
    )


def checked(start_import, text: str, **options) -> CustomerImport:
    customer_import = start_import(text, **options)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.READY, customer_import.failure
    return customer_import


def expire_lease(customer_import: CustomerImport) -> None:
    CustomerImport.objects.filter(pk=customer_import.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_a_crash_mid_apply_resumes_after_the_last_committed_batch(
    organization, start_import, settings, monkeypatch
):
    settings.IMPORT_BATCH_ROWS = 10
    customer_import = services.import_apply(customer_import=checked(start_import, rows(35)))
    real, calls = jobs._apply_batch, []

    def crash_on_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("killed")  # the worker dies mid-batch: that batch rolls back
        real(*args)

    monkeypatch.setattr(jobs, "_apply_batch", crash_on_third)
    with pytest.raises(SystemExit):
        jobs.run_imports()
    customer_import = refreshed(customer_import)
    assert customer_import.applied_through == 21  # rows 2..21: two batches committed
    assert Customer.objects.count() == 20
    assert jobs.run_imports() == 0  # its lease still holds: nobody else takes it
    monkeypatch.setattr(jobs, "_apply_batch", real)
    expire_lease(customer_import)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.DONE
    assert customer_import.counts["created"] == 35
    assert Customer.objects.count() == 35
    # Every row applied once: one creation entry per customer.
    assert Entry.objects.filter(type="customer.created").count() == 35


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_killed_mid_apply_loses_and_repeats_nothing(
    organization, start_import, settings, postgres_only
):
    customer_import = services.import_apply(customer_import=checked(start_import, rows(6000)))
    database = connection.settings_dict
    url = (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST']}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "IMPORT_BATCH_ROWS": "100",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_jobs", "--only", "imports", "--interval", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while refreshed(customer_import).applied_through < 500:
            assert time.monotonic() < deadline, "the worker applied nothing"
            assert worker.poll() is None
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    customer_import = refreshed(customer_import)
    applied = customer_import.applied_through
    assert customer_import.status == CustomerImport.Status.APPLYING and applied < 6001
    assert Customer.objects.count() == applied - 1  # row 2 is the first customer
    expire_lease(customer_import)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.DONE
    assert Customer.objects.count() == 6000
    assert Entry.objects.filter(type="customer.created").count() == 6000
    assert customer_import.counts["created"] == 6000


@pytest.mark.django_db
def test_a_second_worker_finds_nothing_while_the_first_holds_the_import(organization, start_import):
    customer_import = start_import(rows(3))
    claimed = jobs._claim()
    assert claimed.pk == customer_import.pk and claimed.locked_by
    assert jobs._claim() is None
    # The first worker's lease ran out and a second took over: the first stops.
    expire_lease(customer_import)
    second = jobs._claim()
    with pytest.raises(jobs.LeaseLost):
        jobs._update(claimed, CustomerImport.Status.VALIDATING, rows_done=1)
    jobs._validate(second, None)
    assert refreshed(customer_import).status == CustomerImport.Status.READY


@pytest.mark.django_db
def test_cancel_during_the_apply_stops_after_the_batch_under_way(
    organization, start_import, settings
):
    settings.IMPORT_BATCH_ROWS = 10
    customer_import = services.import_apply(customer_import=checked(start_import, rows(50)))

    def cancel(current):
        services.import_cancel(customer_import=current)

    jobs.run_imports(on_batch=cancel)
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.CANCELED
    assert Customer.objects.count() == 10 and customer_import.counts["created"] == 10
    assert jobs.run_imports() == 0
    with pytest.raises(Exception, match="canceled already"):
        services.import_cancel(customer_import=customer_import)


@pytest.mark.django_db
def test_a_customer_edited_after_the_preview_is_skipped_and_the_edit_kept(
    organization, start_import
):
    ada = customer_services.customer_create(
        organization=organization, email="ada@example.com", external_id="u1", name="Ada"
    )
    bo = customer_services.customer_create(organization=organization, email="bo@example.com")
    text = "email,external_id,name\nada@example.com,u1,Ada Lovelace\nbo@example.com,,Bo B\n"
    customer_import = checked(start_import, text)
    assert customer_import.counts["update"] == 2
    # Someone edits Ada on the dashboard between the preview and the apply.
    customer_services.customer_update(customer=ada, expected_version=ada.version, name="Ada K")
    seen_version = Customer.objects.get(pk=bo.pk).version
    services.import_apply(customer_import=customer_import)
    run_all()
    customer_import = refreshed(customer_import)
    assert Customer.objects.get(pk=ada.pk).name == "Ada K"
    assert Customer.objects.get(pk=bo.pk).name == "Bo B"
    assert (customer_import.counts["updated"], customer_import.counts["skipped"]) == (1, 1)
    error = ImportRowError.objects.get(customer_import=customer_import, at_apply=True)
    assert (error.row, error.message) == (2, CHANGED_SINCE)
    # And an editor who loaded Bo before the import cannot overwrite it silently.
    with pytest.raises(customer_services.StaleCustomerError):
        customer_services.customer_update(customer=bo, expected_version=seen_version, name="X")


@pytest.mark.django_db
def test_a_batch_the_database_refuses_is_written_row_by_row(
    organization, start_import, monkeypatch
):
    customer_import = services.import_apply(customer_import=checked(start_import, rows(3)))
    # Another writer takes p1's email after the batch looked its customers up: the
    # batch INSERT fails on the constraint, and the rows are retried one by one.
    real = Planner.plan

    def racing(self, batch, **kwargs):
        outcomes = real(self, batch, **kwargs)
        Customer.objects.create(organization=organization, email="P1@example.com")
        return outcomes

    monkeypatch.setattr(Planner, "plan", racing)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.DONE
    assert (customer_import.counts["created"], customer_import.counts["skipped"]) == (2, 1)
    error = ImportRowError.objects.get(customer_import=customer_import, at_apply=True)
    assert (error.row, error.column) == (3, "email")
    assert Customer.objects.filter(email__iexact="p1@example.com").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("send", [True, False])
def test_webhooks_are_sent_unless_the_import_says_not_to(organization, start_import, send):
    WebhookEndpoint.objects.create(
        organization=organization,
        url="https://example.com/hook",
        secret="whsec_" + "a" * 32,
        events=[EventType.CUSTOMER_CREATED, EventType.CUSTOMER_STATE_CHANGED],
    )
    customer_import = checked(start_import, rows(4), send_webhooks=send)
    services.import_apply(customer_import=customer_import)
    run_all()
    events = WebhookEvent.objects.filter(organization=organization)
    assert events.filter(type=EventType.CUSTOMER_CREATED).count() == (4 if send else 0)
    assert events.filter(type=EventType.CUSTOMER_STATE_CHANGED).count() == (4 if send else 0)
    entries = Entry.objects.filter(source="import", request_id=str(customer_import.pk))
    assert entries.count() == 4
    assert set(entries.values_list("actor_name", flat=True)) == {"Owner"}

"""`manage.py purge_audit`: entries older than AUDIT_RETENTION_DAYS go, in batches; without
the setting everything is kept."""

from datetime import timedelta
from io import StringIO

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from activity.models import Entry
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def add(customer, *, days_ago: float, count: int = 1) -> None:
    now = timezone.now()
    Entry.objects.bulk_create(
        Entry(
            organization_id=customer.organization_id,
            customer=customer,
            created_at=now - timedelta(days=days_ago, seconds=i),
            type="customer.updated",
            actor_type="system",
            source="system",
        )
        for i in range(count)
    )


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_audit", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def customers(organization, other_organization):
    ours = CustomerFactory(organization=organization)
    theirs = CustomerFactory(organization=other_organization)
    for customer in (ours, theirs):
        add(customer, days_ago=100, count=7)
        add(customer, days_ago=29)
        add(customer, days_ago=1)
    return ours, theirs


def test_without_the_setting_everything_is_kept(settings, customers):
    settings.AUDIT_RETENTION_DAYS = None
    assert "every entry is kept; 0 deleted" in purge()
    assert Entry.objects.count() == 18


def test_it_deletes_entries_older_than_the_setting_in_every_organization(settings, customers):
    settings.AUDIT_RETENTION_DAYS = 30
    output = purge("--batch-size", "3")  # several batches per organization
    assert output.startswith("Deleted 14 timeline entries older than 30 days (before ")
    assert Entry.objects.count() == 4
    oldest = timezone.now() - timedelta(days=30)
    assert not Entry.objects.filter(created_at__lt=oldest).exists()
    assert "Deleted 0 timeline entries" in purge()


def test_a_dry_run_counts_and_deletes_nothing(settings, customers):
    settings.AUDIT_RETENTION_DAYS = 30
    assert purge("--dry-run").startswith("Would delete 14 timeline entries older than 30 days")
    assert Entry.objects.count() == 18


def test_days_on_the_command_line_win(settings, customers):
    settings.AUDIT_RETENTION_DAYS = None
    assert purge("--days", "7").startswith("Deleted 16 timeline entries older than 7 days")
    assert Entry.objects.count() == 2


@pytest.mark.parametrize("args", [("--days", "0"), ("--days", "-3"), ("--batch-size", "0")])
def test_a_bad_number_is_refused(settings, args):
    settings.AUDIT_RETENTION_DAYS = 30
    with pytest.raises(CommandError):
        purge(*args)


def _setting(monkeypatch, value):
    from config import settings as config_settings

    monkeypatch.setattr(config_settings, "env", environ.Env())
    if value is None:
        monkeypatch.delenv("AUDIT_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("AUDIT_RETENTION_DAYS", value)
    return config_settings._audit_retention_days()


@pytest.mark.parametrize(("value", "days"), [(None, None), ("", None), (" ", None), ("90", 90)])
def test_the_setting_is_a_positive_number_of_days_or_empty(monkeypatch, value, days):
    assert _setting(monkeypatch, value) == days


@pytest.mark.parametrize("value", ["0", "-1", "30d", "1.5", "forever"])
def test_a_bad_setting_stops_the_app_at_start(monkeypatch, value):
    with pytest.raises(ImproperlyConfigured, match="AUDIT_RETENTION_DAYS"):
        _setting(monkeypatch, value)

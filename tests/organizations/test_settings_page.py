"""Settings → Organization: owners set the organization's name, timezone and currency.
The currency (and name) apply at once; a timezone change is applied by the worker
(`run_jobs`' `timezone_changes`), which recuts the kept figures in its own transaction."""

import threading
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.test import Client
from django.urls import reverse

from analytics.compute import Filters, compute
from analytics.models import DailyOrderFigures
from core import changes as core_changes
from core import jobs
from core.timezones import zone
from organizations import jobs as org_jobs
from organizations.jobs import LEASE, apply_timezone_changes
from organizations.models import Organization
from tests.analytics.test_kept_figures import snapshot
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

SETTINGS = "/dashboard/acme/settings/"
PENDING = "Timezone change to {} pending — figures are being recut"


def valid(**overrides) -> dict:
    data = {"name": "Acme", "timezone": "UTC", "currency": "usd"}
    data.update(overrides)
    return data


def fresh(organization) -> Organization:
    return Organization.objects.get(pk=organization.pk)


@pytest.fixture
def recorded():
    """The changes reported through core.changes while the test runs."""
    seen: list = []

    def consumer(batch):
        seen.extend(batch)

    core_changes.register(consumer)
    yield seen
    core_changes._consumers.remove(consumer)


def test_the_route_is_the_settings_root():
    assert reverse("organizations:settings", args=["acme"]) == SETTINGS


def test_owners_see_the_settings_with_the_settings_menu(client, owner, organization):
    client.force_login(owner)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    text = page.text
    assert '<option value="Europe/Paris"' in text and '<option value="eur"' in text
    assert '<optgroup label="Europe">' in text
    assert '<option value="UTC" selected>' in text and '<option value="usd" selected>' in text
    # The top bar's Settings, and the settings menu's Organization, are the current page.
    assert f'<a href="{SETTINGS}" aria-current="page">Settings</a>' in text
    assert f'<a href="{SETTINGS}" aria-current="page">Organization</a>' in text
    assert 'href="/dashboard/acme/settings/tokens/">API tokens</a>' in text
    assert 'href="/dashboard/acme/settings/portal/">Customer portal</a>' in text
    assert "pending" not in text


@pytest.mark.parametrize("path", ["tokens/", "portal/"])
def test_the_other_settings_pages_share_the_menu(client, owner, path):
    client.force_login(owner)
    text = client.get(SETTINGS + path).text
    assert f'<a href="{SETTINGS}">Organization</a>' in text
    assert f'<a href="{SETTINGS}{path}" aria-current="page">' in text
    assert f'<a href="{SETTINGS}" aria-current="page">Settings</a>' in text


def test_a_currency_and_name_change_apply_at_once(client, owner, organization, recorded):
    client.force_login(owner)
    response = client.post(SETTINGS, valid(name="  Acme Ltd ", currency="eur"), follow=True)
    assert response.redirect_chain[-1][0] == SETTINGS
    assert "Settings saved." in response.text
    organization = fresh(organization)
    assert (organization.name, organization.currency) == ("Acme Ltd", "eur")
    assert (organization.timezone, organization.pending_timezone) == ("UTC", None)
    [change] = recorded
    assert change.type == "organization.updated"
    assert change.organization_id == organization.pk and change.customer_id is None
    assert change.changes == {"name": ["Acme", "Acme Ltd"], "currency": ["usd", "eur"]}
    assert change.acting.actor.type == "user" and change.acting.actor.id == str(owner.pk)
    assert change.acting.source == "dashboard"


def test_saving_the_same_values_changes_and_records_nothing(client, owner, organization, recorded):
    client.force_login(owner)
    modified = fresh(organization).modified_at
    response = client.post(SETTINGS, valid(), follow=True)
    assert "Nothing changed." in response.text
    assert fresh(organization).modified_at == modified
    assert recorded == []


def test_a_save_writes_only_its_fields(owner, organization):
    from organizations.views import _organization_update

    # A copy read before someone else changed the portal settings.
    stale = fresh(organization)
    Organization.objects.filter(pk=organization.pk).update(portal_support_email="help@acme.test")
    _organization_update(stale, {"name": "Acme", "currency": "gbp"}, timezone_name="UTC")
    organization = fresh(organization)
    assert (organization.currency, organization.portal_support_email) == ("gbp", "help@acme.test")


def test_a_timezone_change_is_pending_until_the_worker_applies_it(
    client, owner, organization, recorded
):
    customer = CustomerFactory(organization=organization)
    # 03:00 UTC on 1 March is the evening of 28 February in Los Angeles.
    OrderFactory(customer=customer, created_at=datetime(2026, 3, 1, 3, tzinfo=UTC))
    client.force_login(owner)
    response = client.post(SETTINGS, valid(timezone="America/Los_Angeles"), follow=True)
    assert "applied in the background" in response.text
    assert PENDING.format("America/Los_Angeles") in response.text
    assert '<option value="America/Los_Angeles" selected>' in response.text
    organization = fresh(organization)
    assert (organization.timezone, organization.pending_timezone) == (
        "UTC",
        "America/Los_Angeles",
    )
    assert recorded[-1].changes == {"timezone": ["UTC", "America/Los_Angeles"]}
    # Until the worker runs, the days are UTC's.
    assert orders_by_day(organization) == {date(2026, 3, 1): 1}

    assert apply_timezone_changes() == 1
    assert apply_timezone_changes() == 0
    organization = fresh(organization)
    assert (organization.timezone, organization.pending_timezone) == ("America/Los_Angeles", None)
    assert organization.pending_timezone_locked_until is None
    assert orders_by_day(organization) == {date(2026, 2, 28): 1}
    assert "pending" not in client.get(SETTINGS).text
    assert "America/Los_Angeles" in client.get(reverse("analytics:overview", args=["acme"])).text


def orders_by_day(organization) -> dict:
    """The organization's paid orders per day of the first days of March 2026, as the
    overview counts them: in the organization's zone."""
    figures = compute(
        organization=organization,
        start_date=date(2026, 2, 27),
        end_date=date(2026, 3, 2),
        interval="day",
        tz=zone(organization.timezone),
        filters=Filters(currency="usd"),
        now=datetime(2026, 12, 1, tzinfo=UTC),
        slugs=["orders"],
    )
    return {
        period.start.date(): values["orders"]
        for period, values in zip(figures.periods, figures.values, strict=True)
        if values["orders"]
    }


def test_the_pending_notice_asks_again_until_the_change_is_applied(client, owner, organization):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Asia/Tokyo"))
    partial = client.get(SETTINGS, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text and 'hx-trigger="every 5s"' in partial.text
    assert PENDING.format("Asia/Tokyo") in partial.text
    assert "HX-Request" in partial["Vary"]
    apply_timezone_changes()
    partial = client.get(SETTINGS, headers={"HX-Request": "true"})
    assert "hx-trigger" not in partial.text
    assert "The timezone is now Asia/Tokyo" in partial.text


def test_the_last_choice_wins(client, owner, organization, recorded):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Europe/Paris"))
    client.post(SETTINGS, valid(timezone="Asia/Tokyo"))
    assert fresh(organization).pending_timezone == "Asia/Tokyo"
    assert [c.changes["timezone"] for c in recorded] == [
        ["UTC", "Europe/Paris"],
        ["Europe/Paris", "Asia/Tokyo"],
    ]
    apply_timezone_changes()
    assert fresh(organization).timezone == "Asia/Tokyo"


def test_choosing_the_current_zone_again_withdraws_a_pending_change(client, owner, organization):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Europe/Paris"))
    client.post(SETTINGS, valid(timezone="UTC"))
    assert fresh(organization).pending_timezone is None
    assert apply_timezone_changes() == 0
    assert fresh(organization).timezone == "UTC"


def test_a_change_made_while_the_worker_holds_its_claim_is_the_one_applied(
    client, owner, organization
):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Europe/Paris"))
    claimed = org_jobs._claim(datetime.now(UTC))
    assert claimed == organization.pk
    client.post(SETTINGS, valid(timezone="Asia/Tokyo"))  # before the worker locks the row
    org_jobs._apply(claimed)
    organization = fresh(organization)
    assert (organization.timezone, organization.pending_timezone) == ("Asia/Tokyo", None)


def test_a_change_after_the_worker_applied_one_is_pending_again(client, owner, organization):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Europe/Paris"))
    apply_timezone_changes()
    client.post(SETTINGS, valid(timezone="UTC"))
    assert fresh(organization).pending_timezone == "UTC"
    apply_timezone_changes()
    assert fresh(organization).timezone == "UTC"


def fail_after_the_timezone_update(monkeypatch):
    """The worker dies after its UPDATE (and, on PostgreSQL, the recut) ran, before the
    transaction commits."""
    original = QuerySet.update

    def update(self, **kwargs):
        rows = original(self, **kwargs)
        if self.model is Organization and "timezone" in kwargs:
            raise RuntimeError("worker killed")
        return rows

    monkeypatch.setattr(QuerySet, "update", update)


def test_a_failed_attempt_leaves_the_old_zone_and_is_tried_again_after_its_lease(
    client, owner, organization, monkeypatch
):
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="Europe/Paris"))
    with monkeypatch.context() as patched:
        fail_after_the_timezone_update(patched)
        with pytest.raises(RuntimeError, match="worker killed"):
            apply_timezone_changes()
    organization = fresh(organization)
    assert (organization.timezone, organization.pending_timezone) == ("UTC", "Europe/Paris")
    assert organization.pending_timezone_locked_until is not None
    assert PENDING.format("Europe/Paris") in client.get(SETTINGS).text
    # Its lease holds the change back, then another attempt applies it.
    assert apply_timezone_changes() == 0
    assert apply_timezone_changes(now=datetime.now(UTC) + LEASE + timedelta(seconds=1)) == 1
    assert fresh(organization).timezone == "Europe/Paris"


def test_a_killed_worker_leaves_its_claim_to_run_out(organization):
    Organization.objects.filter(pk=organization.pk).update(pending_timezone="Europe/Paris")
    now = datetime.now(UTC)
    assert org_jobs._claim(now) == organization.pk  # ... and the worker is never heard of again
    assert apply_timezone_changes(now=now + LEASE - timedelta(seconds=1)) == 0
    assert fresh(organization).timezone == "UTC"
    assert apply_timezone_changes(now=now + LEASE) == 1
    assert fresh(organization).timezone == "Europe/Paris"


def test_a_pending_zone_this_python_does_not_know_is_dropped(organization):
    Organization.objects.filter(pk=organization.pk).update(pending_timezone="Mars/Olympus")
    assert apply_timezone_changes() == 1
    organization = fresh(organization)
    assert (organization.timezone, organization.pending_timezone) == ("UTC", None)


def test_the_job_is_registered_and_run_by_run_jobs(owner, organization):
    assert jobs.registered()["timezone_changes"] is apply_timezone_changes
    Organization.objects.filter(pk=organization.pk).update(pending_timezone="Europe/Paris")
    out = StringIO()
    call_command("run_jobs", once=True, only=["timezone_changes"], stdout=out)
    assert "timezone_changes: 1" in out.getvalue()
    assert fresh(organization).timezone == "Europe/Paris"


def test_a_plain_save_of_a_stale_copy_leaves_a_pending_change_alone(organization):
    stale = fresh(organization)
    Organization.objects.filter(pk=organization.pk).update(pending_timezone="Europe/Paris")
    stale.name = "Acme Ltd"
    stale.save()
    assert fresh(organization).pending_timezone == "Europe/Paris"


# --- Hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "Unknown timezone “Mars/Olympus”"),
        ("timezone", "europe/paris", "Unknown timezone “europe/paris”"),
        ("timezone", " Europe/Paris", "Unknown timezone"),
        ("timezone", "", "Choose a timezone."),
        ("currency", "XYZ", "Unknown currency “XYZ”"),
        ("currency", "USD ", "Unknown currency “USD ”"),
        ("currency", "usd ", "Unknown currency"),
        ("currency", "USD", "Unknown currency “USD”"),
        ("currency", "", "Choose a currency."),
        ("name", "   ", "Give the organization a name."),
        ("name", "x" * 121, "at most 120 characters"),
    ],
)
def test_the_form_refuses_bad_values_beside_the_field(
    client, owner, organization, recorded, field, value, message
):
    client.force_login(owner)
    response = client.post(SETTINGS, valid(currency="eur") | {field: value})
    assert response.status_code == 422
    text = response.text
    assert message in text
    # The error sits in the field's own cell.
    cell = text[text.index(f'<label for="id_{field}">') :]
    assert message in cell[: cell.index("</div>", cell.index(f'name="{field}"'))]
    organization = fresh(organization)
    assert (organization.name, organization.timezone, organization.currency) == (
        "Acme",
        "UTC",
        "usd",
    )
    assert organization.pending_timezone is None
    assert recorded == []


def test_members_get_403_and_change_nothing(client, member, organization):
    client.force_login(member)
    assert client.get(SETTINGS).status_code == 403
    response = client.post(SETTINGS, valid(timezone="Europe/Paris", currency="eur"))
    assert response.status_code == 403
    organization = fresh(organization)
    assert (organization.currency, organization.pending_timezone) == ("usd", None)


def test_another_organizations_slug_is_404(client, outsider, organization, other_organization):
    client.force_login(outsider)
    assert client.get(SETTINGS).status_code == 404
    assert client.post(SETTINGS, valid(currency="eur")).status_code == 404
    assert fresh(organization).currency == "usd"
    # The outsider's own settings are theirs.
    assert client.get("/dashboard/other/settings/").status_code == 200


def test_anonymous_visitors_sign_in(client, organization):
    response = client.post(SETTINGS, valid(currency="eur"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert fresh(organization).currency == "usd"


def test_a_post_without_the_csrf_token_is_refused(owner, organization):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post(SETTINGS, valid(currency="eur")).status_code == 403
    assert fresh(organization).currency == "usd"


# --- Customer portal settings: recorded too -----------------------------------------------


def test_portal_settings_changes_are_recorded(client, owner, organization, recorded):
    client.force_login(owner)
    response = client.post(
        SETTINGS + "portal/",
        {"portal_allow_billing_update": "on", "portal_support_email": "Help@Acme.Example"},
    )
    assert response.status_code == 302
    [change] = recorded
    assert change.type == "organization.updated"
    assert change.changes == {
        "portal_allow_subscription_cancel": [True, False],
        "portal_support_email": ["", "help@acme.example"],
    }
    assert change.acting.actor.id == str(owner.pk)


# --- PostgreSQL: the recut happens in the worker, and equals a rebuild ---------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_the_worker_recuts_the_kept_figures_as_a_rebuild_would(client, owner, organization):
    customer = CustomerFactory(
        organization=organization, created_at=datetime(2026, 3, 1, 3, tzinfo=UTC)
    )
    for hour in (1, 3, 7, 23):
        OrderFactory(customer=customer, created_at=datetime(2026, 3, 1, hour, tzinfo=UTC))
    assert set(DailyOrderFigures.objects.values_list("day", flat=True)) == {date(2026, 3, 1)}
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="America/Los_Angeles"))
    # The request left the figures alone: the worker recuts them.
    assert set(DailyOrderFigures.objects.values_list("day", flat=True)) == {date(2026, 3, 1)}
    assert apply_timezone_changes() == 1
    assert set(DailyOrderFigures.objects.values_list("day", flat=True)) == {
        date(2026, 2, 28),
        date(2026, 3, 1),
    }
    kept = snapshot()
    call_command("rebuild_metrics", stdout=StringIO())
    assert snapshot() == kept
    assert orders_by_day(fresh(organization)) == {date(2026, 2, 28): 3, date(2026, 3, 1): 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_a_failed_recut_leaves_the_old_zone_and_its_figures(
    client, owner, organization, monkeypatch
):
    customer = CustomerFactory(organization=organization)
    OrderFactory(customer=customer, created_at=datetime(2026, 3, 1, 3, tzinfo=UTC))
    before = snapshot()
    client.force_login(owner)
    client.post(SETTINGS, valid(timezone="America/Los_Angeles"))
    with monkeypatch.context() as patched:
        fail_after_the_timezone_update(patched)
        with pytest.raises(RuntimeError):
            apply_timezone_changes()
    assert fresh(organization).timezone == "UTC"
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_a_save_while_the_worker_recuts_says_so_instead_of_hanging(client, owner, organization):
    """The worker holds the organization's row for the whole recut: a settings save waits
    a few seconds at most, then asks the owner to try again."""
    locked, release = threading.Event(), threading.Event()

    def worker():
        try:
            with transaction.atomic():
                list(Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk))
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert locked.wait(10)
        client.force_login(owner)
        response = client.post(SETTINGS, valid(currency="eur"))
        assert response.status_code == 409
        assert "A timezone change is being applied right now" in response.text
    finally:
        release.set()
        thread.join()
    assert fresh(organization).currency == "usd"
    assert client.post(SETTINGS, valid(currency="eur")).status_code == 302
    assert fresh(organization).currency == "eur"
    assert connection.vendor == "postgresql"

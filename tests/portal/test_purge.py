"""Ended customer sessions and sign-in codes are deleted a day after they end, by the
`portal_purge` job of `manage.py run_jobs`, a batch at a time."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from core import jobs
from portal import jobs as portal_jobs
from portal.models import CustomerSession, PortalSignInCode
from portal.services import customer_session_authenticate, customer_session_create
from portal.signin import sign_in_code_request
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()


def test_the_purge_is_a_job_polled_hourly():
    assert "portal_purge" in jobs.registered()
    assert jobs.idle_wait("portal_purge", 1.0) == 3600.0


def test_sessions_and_codes_go_a_day_after_they_end(organization, other_organization):
    now = timezone.now()
    ada = CustomerFactory(organization=organization, email="ada@example.com")
    otto = CustomerFactory(organization=other_organization)
    old_session, _ = customer_session_create(customer=ada, now=now - timedelta(days=3))
    other_old, _ = customer_session_create(customer=otto, now=now - timedelta(days=3))
    recent, recent_token = customer_session_create(customer=ada, now=now - timedelta(hours=2))
    live, live_token = customer_session_create(customer=ada)
    old_code = sign_in_code_request(
        organization=organization,
        email=ada.email,
        address="203.0.113.1",
        now=now - timedelta(days=2),
    )
    new_code = sign_in_code_request(
        organization=organization, email=ada.email, address="203.0.113.1"
    )

    out = StringIO()
    call_command("run_jobs", once=True, only=["portal_purge"], stdout=out)

    assert out.getvalue().strip() == "portal_purge: 3"
    assert set(CustomerSession.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
    assert set(PortalSignInCode.objects.values_list("pk", flat=True)) == {new_code.pk}
    assert old_session.pk != other_old.pk and old_code.pk != new_code.pk
    # What stays still works as before: the live session signs in, the ended one does not.
    assert customer_session_authenticate(live_token) is not None
    assert customer_session_authenticate(recent_token) is None
    assert portal_jobs.purge_expired() == 0  # nothing left to do


def test_a_backlog_goes_a_batch_at_a_time(organization, monkeypatch):
    monkeypatch.setattr(portal_jobs, "BATCH", 2)
    ada = CustomerFactory(organization=organization)
    ended = timezone.now() - timedelta(days=5)
    for _ in range(5):
        customer_session_create(customer=ada, now=ended)
    assert [portal_jobs.purge_expired() for _ in range(4)] == [2, 2, 1, 0]
    assert not CustomerSession.objects.exists()

"""The replica router's decisions, without replicas: the real ones are exercised against a
streaming standby in tests/cluster (scripts/with-cluster.sh)."""

import dataclasses
import json
import math
import os
import subprocess
import sys
import time

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from core import replicas
from customers.models import Customer
from organizations.models import OrganizationAccessToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_replica(monkeypatch):
    """A configured replica called replica_1 whose health the test decides."""
    state = {"health": replicas.Health(0, True, 0.0, "ok"), "measured": 0}
    monkeypatch.setattr(replicas, "replica_aliases", lambda: ["replica_1"])

    def measure(alias):
        state["measured"] += 1
        return dataclasses.replace(state["health"], checked_at=time.monotonic())

    monkeypatch.setattr(replicas, "measure", measure)
    replicas.forget_health()
    yield state
    replicas.forget_health()


def _within(reads):
    token = replicas._reads.set(reads)
    return token


def test_outside_a_request_everything_reads_from_the_primary(one_replica):
    assert replicas.read_alias(Customer) == "default"


def _outside_atomic(function):
    from django.db import connections

    connection = connections["default"]
    saved, connection.in_atomic_block = connection.in_atomic_block, False
    try:
        return function()
    finally:
        connection.in_atomic_block = saved


def test_a_get_reads_from_a_healthy_replica_outside_transactions(one_replica):
    token = _within(replicas.Reads(allowed=True))
    try:
        # pytest-django wraps each test in a transaction on the primary, which alone sends
        # reads there: step outside it for the decision.
        assert _outside_atomic(lambda: replicas.read_alias(Customer)) == "replica_1"
        # Credentials and coordination rows always come from the primary.
        assert _outside_atomic(lambda: replicas.read_alias(OrganizationAccessToken)) == "default"
        # Inside a transaction on the primary: the primary.
        with transaction.atomic():
            assert replicas.read_alias(Customer) == "default"
    finally:
        replicas._reads.reset(token)


def test_after_a_write_the_request_reads_from_the_primary(one_replica):
    reads = replicas.Reads(allowed=True)
    token = _within(reads)
    try:
        assert _outside_atomic(lambda: replicas.read_alias(Customer)) == "replica_1"
        assert replicas.ReplicaRouter().db_for_write(Customer) == "default"
        assert reads.wrote
        assert _outside_atomic(lambda: replicas.read_alias(Customer)) == "default"
    finally:
        replicas._reads.reset(token)


def test_a_request_not_allowed_replicas_reads_from_the_primary(one_replica):
    token = _within(replicas.Reads(allowed=False))
    try:
        assert _outside_atomic(lambda: replicas.read_alias(Customer)) == "default"
    finally:
        replicas._reads.reset(token)


@pytest.mark.parametrize(
    "health",
    [
        replicas.Health(0, False, None, "unreachable: connection refused"),
        replicas.Health(0, False, 12.0, "12.0 s behind"),
    ],
)
def test_an_unusable_replica_is_skipped(one_replica, health):
    one_replica["health"] = health
    token = _within(replicas.Reads(allowed=True))
    try:
        assert _outside_atomic(lambda: replicas.read_alias(Customer)) == "default"
    finally:
        replicas._reads.reset(token)


def test_health_is_measured_at_most_once_per_interval(one_replica, settings):
    settings.REPLICA_CHECK_SECONDS = 3600
    for _ in range(5):
        assert replicas.health("replica_1").usable
    assert one_replica["measured"] == 1
    settings.REPLICA_CHECK_SECONDS = 0
    replicas.health("replica_1")
    assert one_replica["measured"] == 2


def test_the_replica_chosen_is_kept_for_the_whole_request(monkeypatch, one_replica):
    monkeypatch.setattr(replicas, "replica_aliases", lambda: ["replica_1", "replica_2"])
    reads = replicas.Reads(allowed=True)
    token = _within(reads)
    try:
        first = _outside_atomic(lambda: replicas.read_alias(Customer))
        assert all(
            _outside_atomic(lambda: replicas.read_alias(Customer)) == first for _ in range(20)
        )
    finally:
        replicas._reads.reset(token)


def _middleware(monkeypatch, view):
    monkeypatch.setattr(replicas, "replica_aliases", lambda: ["replica_1"])
    return replicas.ReplicaReadsMiddleware(view)


def test_a_write_keeps_the_client_on_the_primary_for_the_sticky_time(monkeypatch, settings):
    settings.REPLICA_STICKY_SECONDS = 5
    seen = []

    def view(request):
        seen.append(replicas.current().allowed)
        if request.method == "POST":
            response = HttpResponse()
            response.set_cookie(settings.SESSION_COOKIE_NAME, "new-session-after-sign-in")
            return response
        return HttpResponse()

    middleware = _middleware(monkeypatch, view)
    factory = RequestFactory()
    token = "Bearer polar_oat_secret_value"
    middleware(factory.get("/v1/customers/", HTTP_AUTHORIZATION=token))
    middleware(factory.post("/v1/customers/", HTTP_AUTHORIZATION=token))
    middleware(factory.get("/v1/customers/", HTTP_AUTHORIZATION=token))
    # Another token is not held back by this one's write.
    middleware(factory.get("/v1/customers/", HTTP_AUTHORIZATION="Bearer polar_oat_other"))
    # The session cookie the POST set (a sign-in) is sticky too.
    signed_in = factory.get("/dashboard/")
    signed_in.COOKIES[settings.SESSION_COOKIE_NAME] = "new-session-after-sign-in"
    middleware(signed_in)
    assert seen == [True, False, False, True, False]


def test_the_sticky_keys_hold_no_secret(monkeypatch):
    request = RequestFactory().get("/", HTTP_AUTHORIZATION="Bearer polar_oat_secret_value")
    (key,) = replicas._identities(request)
    assert "secret" not in key and key.startswith("replica-sticky:")


def test_with_the_cache_down_a_client_reads_from_the_primary(monkeypatch):
    class Broken:
        def get_many(self, keys):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(replicas, "cache", Broken())
    request = RequestFactory().get("/", HTTP_AUTHORIZATION="Bearer x")
    assert replicas._recently_wrote(request)


def test_without_replicas_the_middleware_is_not_installed():
    from django.core.exceptions import MiddlewareNotUsed

    with pytest.raises(MiddlewareNotUsed):
        replicas.ReplicaReadsMiddleware(lambda request: HttpResponse())


def test_healthz_reports_each_replica(monkeypatch, client, one_replica):
    one_replica["health"] = replicas.Health(0, False, math.inf, "not streaming")
    body = json.loads(client.get("/healthz").content)
    assert body["replicas"] == {
        "replica_1": {"usable": False, "lag_seconds": None, "reason": "not streaming"}
    }


def _settings_with(**environment):
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({a: [d['HOST'], d['PORT'], d['OPTIONS'], "
        "d.get('DISABLE_SERVER_SIDE_CURSORS', False)] for a, d in settings.DATABASES.items()}"
        " | {'routers': settings.DATABASE_ROUTERS}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CI"}}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", **environment}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_settings_take_several_hosts_replicas_and_pgbouncer():
    done = _settings_with(
        DATABASE_URL="postgres://app@db1:5432,db2:5433/customers?target_session_attrs=read-write",
        DATABASE_REPLICA_URLS="postgres://app@r1/customers,postgres://app@r2:6432/customers",
        DATABASE_PGBOUNCER="true",
    )
    assert done.returncode == 0, done.stderr
    databases = json.loads(done.stdout)
    assert databases["default"][:2] == ["db1,db2", "5432,5433"]
    assert databases["default"][2]["target_session_attrs"] == "read-write"
    assert databases["default"][2]["prepare_threshold"] is None
    assert databases["default"][3] is True
    assert databases["replica_1"][0] == "r1" and databases["replica_2"][:2] == ["r2", 6432]
    assert databases["routers"] == ["core.replicas.ReplicaRouter"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"DATABASE_REPLICA_URLS": "postgres://app@r1/customers"},
            "DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL",
        ),
        (
            {
                "DATABASE_URL": "postgres://app@db1/customers",
                "DATABASE_REPLICA_URLS": "mysql://app@r1/customers",
            },
            "DATABASE_REPLICA_URLS entry 1 must start with postgres://",
        ),
        (
            {
                "DATABASE_URL": "postgres://app@db1/customers",
                "DATABASE_REPLICA_URLS": "postgres://app@r1/",
            },
            "DATABASE_REPLICA_URLS entry 1 needs a database",
        ),
    ],
)
def test_bad_replica_settings_fail_at_start_with_a_message(environment, message):
    done = _settings_with(**environment)
    assert done.returncode != 0
    assert message in done.stderr

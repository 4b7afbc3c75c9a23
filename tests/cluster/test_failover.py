"""Failover on libpq's multi-host URL: a web process writing through
`postgres://…@primary,standby/customers?target_session_attrs=read-write` keeps serving
after the primary is stopped and the standby promoted, by itself: calls during the switch
get the documented 503 (JSON, Retry-After), and no acknowledged write is lost; a
`run_jobs` worker on the same URL goes on delivering webhooks from the new primary.

The pair is this test's own (a copy of the cluster's primary, and a synchronous standby
of it), so the cluster the other tests use is left as it was. Synchronous replication
(`synchronous_standby_names`) is what makes "no acknowledged write is lost" hold when the
primary dies at once: a commit is acknowledged only once the standby has it; README's
deployment guide says so."""

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from organizations.services import access_token_create
from tests.cluster.conftest import Web, Worker, free_port, pg_ctl, primary_port, sql
from tests.conftest import ALL_SCOPES
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import Receiver
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _as_postgres(*argv: str) -> None:
    run_as = os.environ.get("PG_RUN_AS", "").split()
    done = subprocess.run([*run_as, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _start(datadir: str, port: int, socket_dir: str, *settings: str) -> None:
    options = " ".join(
        [
            f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1",
            "-c archive_mode=off -c max_connections=100 -c fsync=off",
            *settings,
        ]
    )
    pg_ctl("-D", datadir, "-l", f"{datadir}.log", "-w", "start", "-o", options)


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def account(receiver, settings):
    """An organization, its token and a webhook endpoint, written before the pair is
    copied from the cluster."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    organization = OrganizationFactory(name="Acme", slug="acme")
    _, token = access_token_create(organization=organization, name="failover", scopes=ALL_SCOPES)
    endpoint_create(organization=organization, url=receiver.url, events=["customer.created"])
    return organization, token


@pytest.fixture
def pair(account):
    """A primary (a base backup of the cluster's) and its synchronous streaming standby."""
    # In the cluster's directory: the server's user may not enter pytest's (root's 0700).
    base = Path(tempfile.mkdtemp(prefix="pair.", dir=os.environ["CLUSTER_DIR"]))
    if os.environ.get("PG_RUN_AS"):
        shutil.chown(base, "postgres")
    bindir = os.environ["PG_BINDIR"]
    first, second = str(base / "first"), str(base / "second")
    ports = free_port(), free_port()
    _as_postgres(
        f"{bindir}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port()), "-U",
        "postgres", "-D", first, "-X", "stream", "-c", "fast",
    )  # fmt: skip
    _start(
        first,
        ports[0],
        str(base),
        "-c wal_level=replica -c max_wal_senders=5",
        "-c synchronous_standby_names=* -c synchronous_commit=on",
    )
    _as_postgres(
        f"{bindir}/pg_basebackup", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres",
        "-D", second, "-R", "-X", "stream", "-c", "fast",
    )  # fmt: skip
    _start(second, ports[1], str(base), "-c hot_standby=on")
    _wait(
        lambda: (
            sql(ports[0], "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")[0][
                0
            ]
            == 1
        ),
        30,
        "the standby to stream synchronously",
    )
    yield (first, ports[0]), (second, ports[1])
    for datadir in (first, second):
        with contextlib.suppress(subprocess.CalledProcessError):  # the old one is stopped
            pg_ctl("-D", datadir, "-m", "immediate", "stop")
    shutil.rmtree(base, ignore_errors=True)


def test_a_web_process_follows_the_promotion_and_loses_no_acknowledged_write(
    account, pair, receiver, tmp_path, processes
):
    organization, token = account
    (first_dir, first_port), (second_dir, second_port) = pair
    url = (
        f"postgres://postgres@127.0.0.1:{first_port},127.0.0.1:{second_port}/customers"
        "?target_session_attrs=read-write"
    )
    web = Web(
        tmp_path,
        "web",
        DATABASE_URL=url,
        DATABASE_REPLICA_URLS="",
        DATABASE_PGBOUNCER="false",
        CONN_MAX_AGE="60",
    )
    processes.append(web)
    worker = Worker(tmp_path, "worker", "--only", "webhooks", DATABASE_URL=url)
    processes.append(worker)

    acknowledged: list[str] = []
    unavailable: list[httpx.Response] = []
    others: list[httpx.Response] = []
    after_promotion = threading.Event()
    successes_after = []
    stop = threading.Event()

    def write() -> None:
        n = 0
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=15) as http:
            while not stop.is_set():
                n += 1
                email = f"failover{n}@example.com"
                try:
                    response = http.post(f"{web.url}/v1/customers/", json={"email": email})
                except httpx.HTTPError:
                    continue
                if response.status_code == 201:
                    acknowledged.append(email)
                    if after_promotion.is_set():
                        successes_after.append(email)
                elif response.status_code == 503:
                    unavailable.append(response)
                else:
                    others.append(response)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        _wait(lambda: len(acknowledged) >= 20, 30, "writes on the first primary")
        pg_ctl("-D", first_dir, "-m", "immediate", "stop")  # the primary dies at once
        time.sleep(1)  # calls meanwhile: nowhere to write
        pg_ctl("-D", second_dir, "-w", "promote")
        after_promotion.set()
        _wait(lambda: len(successes_after) >= 20, 60, "writes on the promoted standby")
    finally:
        stop.set()
        writer.join(timeout=30)

    assert not others, [(r.status_code, r.text[:200]) for r in others]
    assert unavailable, "no call met the switch (the primary was down for a second)"
    for response in unavailable:
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"] == "ServiceUnavailable"
    stored = {
        row[0]
        for row in sql(
            second_port,
            "SELECT email FROM customers_customer WHERE organization_id = %s",
            [organization.pk],
        )
    }
    lost = [email for email in acknowledged if email not in stored]
    assert not lost, f"{len(lost)} acknowledged writes lost: {lost[:5]}"
    health = httpx.get(f"{web.url}/healthz").json()
    assert health["status"] == "ok"
    # The worker followed too: the customers created after the promotion are announced.
    deadline = time.monotonic() + 60
    announced: set[str] = set()
    while time.monotonic() < deadline and not set(successes_after) <= announced:
        announced = {json.loads(r["body"])["data"]["email"] for r in receiver.requests}
        time.sleep(0.2)
    assert set(successes_after) <= announced, worker.output()

"""Tests against a real cluster: a primary, a streaming replica, PgBouncer and Redis
(scripts/with-cluster.sh, which `make test` runs them in):

    scripts/with-cluster.sh .venv/bin/pytest -m cluster tests/cluster

Outside it they are skipped. The test process itself talks to the primary through
PgBouncer (transaction pooling) and reads from the replica through the router, as a web
process does; some tests start real gunicorn and `run_jobs` processes with the same
environment. The database is the cluster's own `customers`, migrated once per session
against the primary directly (as the deployment guide says), and emptied after each test.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connections

from core import replicas

ROOT = Path(__file__).resolve().parents[2]
IN_CLUSTER = os.environ.get("CLUSTER") == "1"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    skip = pytest.mark.skip(
        reason="needs the cluster: scripts/with-cluster.sh .venv/bin/pytest -m cluster "
        "tests/cluster (make test runs it)"
    )
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)
            if not IN_CLUSTER:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """The cluster's own database, migrated against the primary (not PgBouncer)."""
    if not IN_CLUSTER:
        pytest.skip("needs the cluster")
    env = os.environ | {"DATABASE_URL": os.environ["CLUSTER_PRIMARY_URL"]}
    env.pop("DATABASE_REPLICA_URLS", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )


@pytest.fixture(autouse=True)
def _fresh_replica_state(settings):
    settings.REPLICA_CHECK_SECONDS = 0  # measure on every request: the tests move fast
    settings.REPLICA_MAX_LAG_SECONDS = 5
    replicas.forget_health()
    yield
    replicas.forget_health()
    for alias in replicas.replica_aliases():
        connections[alias].close()


# -- the servers ----------------------------------------------------------------------------


def server_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/customers"


def sql(port: int, query: str, params=()):
    """Run one statement on the server at `port`, directly (no PgBouncer); its rows."""
    with psycopg.connect(server_url(port), autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def primary_port() -> int:
    return int(os.environ["CLUSTER_PRIMARY_PORT"])


def replica_port() -> int:
    return int(os.environ["CLUSTER_REPLICA_PORT"])


def commit_on_primary() -> None:
    """A committed transaction with an ID, so the replica's last replay time is now."""
    sql(primary_port(), "SELECT pg_current_xact_id()")


def wait_replayed(port: int | None = None, timeout: float = 15) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    (target,) = sql(primary_port(), "SELECT pg_current_wal_lsn()")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (done,) = sql(
            port or replica_port(),
            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
            [str(target)],
        )[0]
        if done:
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica did not replay up to {target} in {timeout} s")


@contextlib.contextmanager
def replay_paused():
    """The replica keeps receiving WAL but applies none of it: reads there are stale."""
    commit_on_primary()
    wait_replayed()
    sql(replica_port(), "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        sql(replica_port(), "SELECT pg_wal_replay_resume()")


def pg_ctl(*arguments: str) -> None:
    run_as = os.environ.get("PG_RUN_AS", "").split()
    subprocess.run(
        [*run_as, f"{os.environ['PG_BINDIR']}/pg_ctl", *arguments],
        check=True,
        capture_output=True,
        timeout=120,
    )


def stop_replica() -> None:
    pg_ctl("-D", os.environ["CLUSTER_REPLICA_DATADIR"], "-m", "fast", "-w", "stop")


def start_replica() -> None:
    directory = os.environ["CLUSTER_DIR"]
    pg_ctl(
        "-D",
        os.environ["CLUSTER_REPLICA_DATADIR"],
        "-l",
        f"{directory}/replica.log",
        "-w",
        "start",
        "-o",
        f"-p {replica_port()} -k {directory} -c listen_addresses=127.0.0.1 -c hot_standby=on "
        "-c hot_standby_feedback=on -c max_connections=300 -c fsync=off",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.OperationalError):
            if sql(replica_port(), "SELECT pg_is_in_recovery()")[0][0]:
                return
        time.sleep(0.2)
    raise AssertionError("the replica did not come back")


# -- app processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return env | {
        "DEBUG": "false",
        "SECRET_KEY": "cluster-tests-secret-key-not-for-production-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "READ_DOT_ENV": "false",
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
        **extra,
    }


class Process:
    def __init__(self, argv: list[str], env: dict, log: Path):
        self.log = log
        self.handle = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.handle.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.handle.pid, signal.SIGTERM)
            try:
                self.handle.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.handle.pid, signal.SIGKILL)
                self.handle.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Web(Process):
    """A gunicorn serving the app on its own port with the given environment."""

    def __init__(self, tmp_path: Path, name: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "2",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            app_environment(**env),
            tmp_path / f"{name}.log",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.handle.poll() is not None:
                raise AssertionError(f"gunicorn {name} exited:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.25)
        self.stop()
        raise AssertionError(f"gunicorn {name} did not answer:\n{self.output()}")


class Worker(Process):
    """`manage.py run_jobs`, the one command that runs every background job."""

    def __init__(self, tmp_path: Path, name: str, *arguments: str, **env: str):
        super().__init__(
            [sys.executable, "manage.py", "run_jobs", "--interval", "0.2", *arguments],
            app_environment(**env),
            tmp_path / f"{name}.log",
        )


@pytest.fixture
def processes():
    """Start app processes with processes.append(Web(...)); all stopped at the end."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()

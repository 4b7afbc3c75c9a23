"""`manage.py run_jobs`: every registered job, once or until stopped."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from core import jobs

pytestmark = pytest.mark.django_db


def test_the_apps_register_their_jobs():
    assert {"webhooks", "imports", "renewals"} <= set(jobs.registered())


def test_once_runs_each_job_until_it_finds_nothing_due(monkeypatch):
    work = {"a": [3, 2, 0], "b": [0]}
    monkeypatch.setattr(
        jobs, "_jobs", {name: (lambda name=name: work[name].pop(0)) for name in work}
    )
    out = io.StringIO()
    call_command("run_jobs", once=True, stdout=out)
    assert out.getvalue().splitlines() == ["a: 5", "b: 0"]


def test_an_unknown_job_is_refused_naming_the_known_ones():
    with pytest.raises(CommandError, match=r"Unknown job\(s\) nope; there are .*webhooks"):
        call_command("run_jobs", only=["nope"], once=True)


def test_it_runs_until_sigterm_then_stops_cleanly(tmp_path):
    # A real process on a database file of its own, with nothing due.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], env=env, check=True, timeout=120
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_jobs", "--interval", "0.1"],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    # The "running" line comes once the signal handlers are in place: a SIGTERM sent
    # earlier (a slow start on a busy machine) would kill the process before them.
    first = worker.stdout.readline()
    time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    rest, _ = worker.communicate(timeout=30)
    out = first + rest
    assert worker.returncode == 0
    running = first.removeprefix("running ").split(" (")[0].split(", ")
    assert {"webhooks", "imports", "renewals"} <= set(running)
    assert out.strip().endswith("stopped")

"""Serving for production: gunicorn ships with the app, scripts/serve.sh (make serve)
starts it the documented way, and the systemd units run commands that exist."""

import configparser
import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "scripts" / "serve.sh"
UNITS = ROOT / "deploy" / "systemd"


def test_gunicorn_is_a_dependency_not_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("gunicorn") for d in project["dependencies"])


def test_make_serve_runs_the_serve_script():
    dry_run = subprocess.run(
        ["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "scripts/serve.sh" in dry_run.stdout
    assert os.access(SERVE, os.X_OK)


def _environment(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    return env | {
        "APP_PYTHON": sys.executable,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        **extra,
    }


def test_it_refuses_to_serve_a_database_with_unapplied_migrations(tmp_path):
    result = subprocess.run(
        [str(SERVE)], env=_environment(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "unapplied migrations" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_serves_with_gunicorn_and_the_workers_asked_for(tmp_path):
    port = _free_port()
    env = _environment(tmp_path, MIGRATE="true", BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    server = subprocess.Popen(
        [str(SERVE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not come up: {server.stdout.read()}")
                time.sleep(0.3)
        assert response.json() == {"status": "ok"}
        assert (tmp_path / "static").is_dir()  # collectstatic ran
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert "with 1 worker(s)" in output
    assert "gunicorn" in output.lower()


def _units():
    return sorted(UNITS.glob("*.service"))


def test_there_are_units_for_the_web_app_and_the_jobs():
    # Renewals are one of run_jobs' jobs: no timer of their own.
    names = {unit.stem for unit in _units()}
    assert names == {"customers-web", "customers-jobs"}
    assert not list(UNITS.glob("*.timer"))


@pytest.mark.parametrize("unit", _units(), ids=lambda p: p.name)
def test_each_unit_runs_a_command_that_exists(unit):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(unit)
    command = parser["Service"]["ExecStart"].split()
    if "manage.py" in command:
        assert command[command.index("manage.py") + 1] in get_commands()
    else:
        assert command[0].endswith("scripts/serve.sh")


def test_the_readme_points_at_the_units_and_the_serve_command():
    readme = (ROOT / "README.md").read_text()
    assert "make serve" in readme and "scripts/serve.sh" in readme
    assert "deploy/systemd/" in readme
    assert "run_jobs" in readme and "renew_subscriptions" in readme

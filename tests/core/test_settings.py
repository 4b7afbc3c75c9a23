"""Settings come from the environment and fail at start, clearly, when they are wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_django(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(env_overrides, READ_DOT_ENV="false")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@host/db", "must start with postgres:// or sqlite:///"),
        ("postgres://user@host:notaport/db", "DATABASE_URL is malformed"),
        ("postgres://user@host:5432", "needs a database name"),
        ("not a url at all", "must start with postgres:// or sqlite:///"),
    ],
)
def test_a_malformed_database_url_fails_at_start_with_a_clear_message(url, message):
    result = run_django({"DATABASE_URL": url}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_check_deploy_is_clean_with_a_production_like_environment():
    result = run_django(
        {
            "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
            "ALLOWED_HOSTS": "customers.example.com",
            "HTTPS": "true",
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_defaults():
    result = run_django({}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W009" in result.stderr  # the development SECRET_KEY


def test_no_environment_runs_on_sqlite_with_debug_off():
    from django.conf import settings

    result = run_django(
        {},
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])",
    )
    assert result.stdout.strip().splitlines()[-1] == "False django.db.backends.sqlite3"
    assert settings.DATABASES["default"]["ENGINE"] in {
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    }

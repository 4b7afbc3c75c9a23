"""PostgreSQL restarts under a running server: 503s (JSON for the API, a page for people)
while it is down, and 200s again from the same server process once it is back."""

import os
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def pg_ctl(*args: str) -> None:
    run_as = shlex.split(os.environ.get("PG_RUN_AS", ""))
    command = [*run_as, f"{os.environ['PG_BINDIR']}/pg_ctl", "-D", os.environ["PG_DATADIR"], *args]
    # No pipes to the server: it would hold them open and the call would never return.
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
    )


def restart_options() -> str:
    """The server's own start options, as postmaster.opts recorded them (minus -D)."""
    words = shlex.split(Path(os.environ["PG_DATADIR"], "postmaster.opts").read_text())[1:]
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word == "-D":
            skip = True
        else:
            kept.append(shlex.quote(word))
    return " ".join(kept)


def test_requests_get_503_during_an_outage_and_succeed_after_it(
    postgres_only, live_server, token, owner, organization
):
    if "PG_DATADIR" not in os.environ:
        pytest.skip("needs the throwaway cluster of scripts/with-postgres.sh")
    api = httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    page = httpx.Client(base_url=live_server.url, timeout=30)
    assert api.get("/v1/customers/").status_code == 200
    options = restart_options()

    pg_ctl("-m", "fast", "-w", "stop")
    try:
        down = api.get("/v1/customers/")
        assert down.status_code == 503
        assert down.json()["error"] == "ServiceUnavailable"
        assert down.headers["Retry-After"] == "5"
        login = page.get("/login/")
        assert login.status_code in (200, 503)  # the sign-in page itself needs no database
        signed_in = page.post("/login/", data={"username": "x", "password": "y"})
        assert signed_in.status_code in (403, 503)  # CSRF first, or the database
        assert "Traceback" not in signed_in.text
    finally:
        log = Path(os.environ["PG_DATADIR"]).parent / "restart.log"
        pg_ctl("-w", "-l", str(log), "start", "-o", options)
        connection.close()  # the test's own connection died with the server too

    for _ in range(50):  # the server reconnects by itself: no restart of the app
        response = api.get("/v1/customers/")
        if response.status_code == 200:
            break
        time.sleep(0.2)
    assert response.status_code == 200

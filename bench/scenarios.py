"""The benchmark: scenarios, the load driver and the table printer.

Run by bench/run.sh once gunicorn serves the app over the seeded "scale" organization:

    python -m bench.scenarios --url http://127.0.0.1:PORT --export-url http://127.0.0.1:PORT2 \
        --export-pid PID --token polar_oat_...

For every scenario it measures, against the running server over loopback HTTP:
- latency at concurrency 1: one keep-alive connection, requests one after another,
  p50 and p95 of at least 30 and at most 200 timed requests (after a warm-up);
- throughput at concurrency 16: requests/second over a fixed 10 s, with wrk (or, without
  it, a small Python load generator: threads with keep-alive http.client connections);
- SQL queries per request: one request through Django's test Client in this process,
  against the same database, counted with CaptureQueriesContext.
The CSV export is timed once on a dedicated single-worker gunicorn whose peak memory
(VmHWM) is read from /proc. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SCALE_SLUG = "scale"
BENCH_USER = ("bench", "bench-password-2026")
HEAVY_CUSTOMER_EMAIL = "user0@example.com"
DEEP_PAGES = 200  # "Load more" clicks: 200 x 50 rows = 10,000 rows deep
# Digits of "user{n}@example.com" (prefixes of n), and "2026" anywhere inside n: about
# 300 rows at a million customers.
SEARCH_CANDIDATES = ["er12", "er123", "er1234", "2026"]
SEARCH_TARGET_MATCHES = 300  # "a few hundred rows": the candidate nearest this is used

LATENCY_MAX_REQUESTS = 200
LATENCY_MIN_REQUESTS = 30
LATENCY_BUDGET_S = 20.0  # past this, stop once the minimum is reached
LATENCY_HARD_LIMIT_S = 120.0  # past this, stop whatever the count
THROUGHPUT_CONCURRENCY = 16
THROUGHPUT_SECONDS = 10
# Scenario 6 (the API lookup) is timed alternating with 10 (its framework floor).
PAIRED = {6: 10}
WARMUP_REQUESTS = 24
WARMUP_CONNECTIONS = 8  # enough to reach every worker thread, so each has its DB connection


# --- HTTP -------------------------------------------------------------------------------


class Http:
    """One keep-alive HTTP/1.1 connection to the server under test (loopback only)."""

    def __init__(self, base_url: str, timeout: float = 120.0):
        parts = urlsplit(base_url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit(f"The benchmark only talks to loopback addresses, not {base_url}.")
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, headers: dict, body: bytes | None = None):
        """Send one request and return the response with its status and headers read; the
        caller reads the body (`read_all` or in chunks)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                return self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, headers: dict, body: bytes | None = None):
        response = self.send(method, path, headers, body)
        data = response.read()
        if response.will_close:
            self.close()
        return response, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _cookies(response) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.msg.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def login(base_url: str) -> str:
    """Sign in as the bench user through the real login form; return the session cookie."""
    client = Http(base_url)
    response, body = client.request("GET", "/login/", {})
    csrf_cookie = _cookies(response).get("csrftoken")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if response.status != 200 or not csrf_cookie or not match:
        raise SystemExit(f"GET /login/ answered {response.status} without a CSRF token.")
    form = urlencode(
        {
            "csrfmiddlewaretoken": match.group(1).decode(),
            "username": BENCH_USER[0],
            "password": BENCH_USER[1],
            "next": "",
        }
    ).encode()
    response, _ = client.request(
        "POST",
        "/login/",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
        },
        form,
    )
    session = _cookies(response).get("sessionid")
    client.close()
    if response.status != 302 or not session:
        raise SystemExit(
            f"Signing in as {BENCH_USER[0]!r} failed (HTTP {response.status}): is the scale "
            "data seeded with its bench user?"
        )
    return session


PORTAL_COOKIE = "portal_session"


def portal_sign_in(base_url: str, token: str) -> str:
    """Follow the merchant's portal link with a customer session token, as the customer's
    browser does; return the portal cookie it sets (its path is /portal/<slug>/)."""
    client = Http(base_url)
    response, _ = client.request(
        "GET", f"/portal/{SCALE_SLUG}/?{urlencode({'customer_session_token': token})}", {}
    )
    cookie = _cookies(response).get(PORTAL_COOKIE)
    client.close()
    if response.status != 302 or not cookie:
        raise SystemExit(f"The portal link answered {response.status} without a portal cookie.")
    return cookie


LOAD_MORE = re.compile(rb'<a class="button" href="([^"]+)"[^>]*>Load more</a>')


def deep_list_url(base_url: str, headers: dict, first_url: str) -> str:
    """Follow the list's "Load more" link DEEP_PAGES times; return the URL reached."""
    client = Http(base_url)
    url = first_url
    deadline = time.monotonic() + 300
    for page in range(DEEP_PAGES):
        if time.monotonic() > deadline:
            raise SystemExit(f"Following the list's cursors took over 300 s (page {page}).")
        response, body = client.request("GET", url, headers)
        match = LOAD_MORE.search(body)
        if response.status != 200 or not match:
            raise SystemExit(
                f"Page {page + 1} of the customer list ({url}) answered {response.status} "
                "without a 'Load more' link: too few customers for a 10,000-row-deep page?"
            )
        url = html.unescape(match.group(1).decode())
    client.close()
    return url


TIMELINE_DEEP_ENTRIES = 5_000


def deep_timeline_url(base_url: str, headers: dict, first_url: str) -> str:
    """Follow the timeline API's next_cursor until TIMELINE_DEEP_ENTRIES entries are
    behind; return the URL of the page reached."""
    client = Http(base_url)
    url, seen = first_url, 0
    while seen < TIMELINE_DEEP_ENTRIES:
        response, body = client.request("GET", url, headers)
        if response.status != 200:
            raise SystemExit(f"The timeline API ({url}) answered {response.status}.")
        page = json.loads(body)
        seen += len(page["items"])
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            raise SystemExit(f"The heavy customer's timeline ends after {seen:,} entries.")
        url = f"{first_url}&{urlencode({'cursor': cursor})}"
    client.close()
    return url


# --- Scenarios --------------------------------------------------------------------------


@dataclass
class Target:
    """One goal: `metric` (a key of Result.metrics) at most or at least `limit`."""

    metric: str
    limit: float
    at_most: bool = True
    label: str = ""

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.limit if self.at_most else value >= self.limit


@dataclass
class Scenario:
    number: int
    title: str
    path: str
    headers: dict
    method: str = "GET"
    targets: list[Target] = field(default_factory=list)
    concurrent: bool = True
    # For requests that vary (PATCH): rng -> (path, body). Otherwise `path`, no body.
    vary: Callable[[random.Random], tuple[str, bytes]] | None = None
    # For wrk: a Lua `request` function producing the same variation.
    wrk_request_lua: str | None = None
    export: bool = False

    def next_request(self, rng: random.Random) -> tuple[str, bytes | None]:
        return self.vary(rng) if self.vary else (self.path, None)


@dataclass
class Result:
    queries: int | None = None
    p50: float | None = None  # seconds
    p95: float | None = None
    samples: int = 0
    rps: float | None = None
    errors: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_scenarios(ctx: dict) -> list[Scenario]:
    session = {"Cookie": f"sessionid={ctx['session']}"}
    bearer = {"Authorization": f"Bearer {ctx['token']}"}
    # The last 365 days (UTC, the scale organization's zone), a point per day.
    today = datetime.now(UTC).date()
    metrics_year = (
        f"/v1/metrics/?start_date={today - timedelta(days=364)}&end_date={today}&interval=day"
    )
    json_bearer = {**bearer, "Content-Type": "application/json"}
    # The heavy customer's own credentials: a customer session token (the portal API) and
    # the portal cookie its link set (the hosted pages).
    customer_bearer = {"Authorization": f"Bearer {ctx['portal_token']}"}
    portal = {"Cookie": f"{PORTAL_COOKIE}={ctx['portal_cookie']}"}
    dashboard = f"/dashboard/{SCALE_SLUG}/customers/"
    customers = ctx["customers"]

    def patch_request(rng: random.Random) -> tuple[str, bytes]:
        n = rng.randrange(customers)
        body = f'{{"metadata":{{"plan":"pro","seats":{rng.randint(1, 50)}}}}}'
        return f"/v1/customers/external/ext_{n}", body.encode()

    patch_lua = f"""
request = function()
  local n = math.random(0, {customers - 1})
  local body = string.format('{{"metadata":{{"plan":"pro","seats":%d}}}}', math.random(1, 50))
  return wrk.format(nil, "/v1/customers/external/ext_" .. n, nil, body)
end
"""

    def post_request(rng: random.Random) -> tuple[str, bytes]:
        email = f"bench-{RUN_SEED:x}-{rng.getrandbits(48):x}@example.com"
        return "/v1/customers/", f'{{"email":"{email}","metadata":{{"plan":"pro"}}}}'.encode()

    post_lua = f"""
posted = 0
request = function()
  posted = posted + 1
  local body = string.format(
    '{{"email":"bench-{RUN_SEED:x}-wrk-%d-%d@example.com","metadata":{{"plan":"pro"}}}}',
    math.random(0, 2147483646), posted)
  return wrk.format(nil, "/v1/customers/", nil, body)
end
"""
    api_list = "/v1/customers/?limit=100"
    ms = 1e-3
    return [
        Scenario(1, "Dashboard list, first page", dashboard, session,
                 targets=[Target("p50", 25 * ms, label="p50 ≤ 25 ms")]),
        Scenario(2, "Dashboard list, 10,000 rows deep", ctx["deep_url"], session,
                 targets=[Target("p50", 25 * ms, label="p50 ≤ 25 ms")]),
        Scenario(3, f"Dashboard search {ctx['search']!r} ({ctx['search_matches']:,} rows)",
                 f"{dashboard}?{urlencode({'query': ctx['search']})}", session,
                 targets=[Target("p50", 60 * ms, label="p50 ≤ 60 ms")]),
        Scenario(4, "Dashboard metadata[plan]=enterprise",
                 f"{dashboard}?metadata%5Bplan%5D=enterprise", session,
                 targets=[Target("p50", 60 * ms, label="p50 ≤ 60 ms")]),
        Scenario(5, f"Customer detail ({ctx['heavy_orders']:,} orders)",
                 f"{dashboard}{ctx['heavy_id']}/", session,
                 targets=[Target("p50", 40 * ms, label="p50 ≤ 40 ms"),
                          Target("queries", 10, label="≤ 10 queries")]),
        Scenario(6, "API get customer by external ID",
                 f"/v1/customers/external/{ctx['external_id']}", bearer,
                 targets=[Target("p50", 6 * ms, label="p50 ≤ 6 ms"),
                          Target("rps", 1000, at_most=False, label="≥ 1,000 req/s"),
                          Target("floor_p50", 1.3, label="≤ 1.3x floor")]),
        Scenario(7, "API list metadata[plan]=pro, limit 100",
                 "/v1/customers/?metadata%5Bplan%5D=pro&limit=100", bearer,
                 targets=[Target("p50", 100 * ms, label="p50 ≤ 100 ms")]),
        Scenario(8, "API PATCH metadata by external ID", "/v1/customers/external/ext_0",
                 json_bearer, method="PATCH", vary=patch_request, wrk_request_lua=patch_lua,
                 targets=[Target("p50", 3 * ms, label="p50 ≤ 3 ms"),
                          Target("queries", 6, label="≤ 6 queries")]),
        Scenario(9, "CSV export, all customers", "/v1/customers/export", bearer,
                 concurrent=False, export=True,
                 targets=[Target("rows_per_s", 100_000, at_most=False, label="≥ 100k rows/s"),
                          Target("peak_mb", 200, label="peak ≤ 200 MB")]),
        Scenario(10, "Framework floor (bare view, same lookup)",
                 f"/bench/floor/{ctx['external_id']}", {}),
        Scenario(11, "API list, limit 100", api_list, bearer,
                 targets=[Target("p50", 8 * ms, label="p50 ≤ 8 ms")]),
        Scenario(12, "API list, limit 100, page 500", f"{api_list}&page=500", bearer,
                 targets=[Target("p50", 12 * ms, label="p50 ≤ 12 ms")]),
        Scenario(13, "API list sorting=email, limit 100", f"{api_list}&sorting=email", bearer,
                 targets=[Target("p50", 10 * ms, label="p50 ≤ 10 ms")]),
        Scenario(14, "API list active=true, limit 100", f"{api_list}&active=true", bearer,
                 targets=[Target("p50", 10 * ms, label="p50 ≤ 10 ms")]),
        Scenario(15, "API POST customer", "/v1/customers/", json_bearer, method="POST",
                 vary=post_request, wrk_request_lua=post_lua,
                 targets=[Target("p50", 4 * ms, label="p50 ≤ 4 ms"),
                          Target("queries", 6, label="≤ 6 queries")]),
        Scenario(16, f"API orders of a customer ({ctx['heavy_orders']:,}), limit 100",
                 f"/v1/orders/?customer_id={ctx['heavy_id']}&limit=100", bearer,
                 targets=[Target("p50", 10 * ms, label="p50 ≤ 10 ms")]),
        Scenario(17, f"API timeline ({ctx['heavy_entries']:,} entries), first page",
                 ctx["timeline_url"], bearer,
                 targets=[Target("p50", 15 * ms, label="p50 ≤ 15 ms")]),
        Scenario(18, f"API timeline, {TIMELINE_DEEP_ENTRIES:,} entries deep",
                 ctx["timeline_deep_url"], bearer,
                 targets=[Target("p50", 15 * ms, label="p50 ≤ 15 ms")]),
        Scenario(19, f"Customer timeline panel ({ctx['heavy_entries']:,} entries)",
                 f"{dashboard}{ctx['heavy_id']}/timeline/", session,
                 targets=[Target("p50", 40 * ms, label="p50 ≤ 40 ms")]),
        Scenario(20, f"Audit log by actor ({ctx['entries'] / 1e6:.1f}M entries)",
                 f"/dashboard/{SCALE_SLUG}/settings/audit-log/?actor=user:{ctx['bench_user']}",
                 session, targets=[Target("p50", 60 * ms, label="p50 ≤ 60 ms")]),
        # 21-24 are the import's (bench/imports.py).
        Scenario(25, "Portal API subscriptions.list, limit 100",
                 "/v1/customer-portal/subscriptions/?limit=100", customer_bearer,
                 targets=[Target("p50", 10 * ms, label="p50 ≤ 10 ms")]),
        Scenario(26, f"Portal API orders.list ({ctx['heavy_orders']:,} orders), limit 100",
                 "/v1/customer-portal/orders/?limit=100", customer_bearer,
                 targets=[Target("p50", 10 * ms, label="p50 ≤ 10 ms")]),
        Scenario(27, f"Portal home page ({ctx['heavy_orders']:,} orders)",
                 f"/portal/{SCALE_SLUG}/", portal,
                 targets=[Target("p50", 30 * ms, label="p50 ≤ 30 ms")]),
        Scenario(28, "Dashboard list sorted by lifetime revenue, first page",
                 f"{dashboard}?sorting=-lifetime_revenue", session,
                 targets=[Target("p50", 25 * ms, label="p50 ≤ 25 ms")]),
        Scenario(29, "Dashboard list sorted by lifetime revenue, 10,000 rows deep",
                 ctx.get("revenue_deep_url", f"{dashboard}?sorting=-lifetime_revenue"), session,
                 targets=[Target("p50", 25 * ms, label="p50 ≤ 25 ms")]),
        Scenario(30, "Metrics API, 12 months by day", metrics_year, bearer,
                 targets=[Target("p50", 50 * ms, label="p50 ≤ 50 ms")]),
        Scenario(31, f"Metrics API, 12 months by day, one customer ({ctx['heavy_orders']:,} "
                     "orders)", f"{metrics_year}&customer_id={ctx['heavy_id']}", bearer,
                 targets=[Target("p50", 15 * ms, label="p50 ≤ 15 ms")]),
        Scenario(32, "Overview page, 12 months by day", f"/dashboard/{SCALE_SLUG}/?range=12m"
                 "&interval=day", session, targets=[Target("p50", 60 * ms, label="p50 ≤ 60 ms")]),
    ]  # fmt: skip


# --- Measuring --------------------------------------------------------------------------

# New each run: a PATCH that repeats an earlier run's (same customer, same value) would
# change nothing and cost less than a real write.
RUN_SEED = random.SystemRandom().getrandbits(64)


def _rng(purpose: str) -> random.Random:
    return random.Random(f"{RUN_SEED} {purpose}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[index]


def _check(status: int, body: bytes, result: Result) -> None:
    if not 200 <= status < 300 and len(result.errors) < 3:
        result.errors.append(f"HTTP {status}: {body[:160]!r}")


def warm_up(base_url: str, scenario: Scenario, seed: int) -> None:
    """A few requests on several connections, so every worker thread has run this code
    path and holds its database connection before anything is timed."""

    def run(k: int) -> None:
        client, rng = Http(base_url), _rng(f"warm-up {seed} {k}")
        for _ in range(WARMUP_REQUESTS // WARMUP_CONNECTIONS):
            path, body = scenario.next_request(rng)
            client.request(scenario.method, path, scenario.headers, body)
        client.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(WARMUP_CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def measure_latency(base_url: str, group: list[tuple[Scenario, Result]], seed: int) -> None:
    """Time requests one after another on one keep-alive connection per scenario. With
    several scenarios their requests alternate, so a comparison between them (the API and
    its floor) is not skewed by the machine changing pace between two runs."""
    rng = _rng(f"latency {seed}")
    clients = [Http(base_url) for _ in group]
    for client, (scenario, _result) in zip(clients, group, strict=True):
        for _ in range(3):  # each connection's own first requests are not timed either
            path, body = scenario.next_request(rng)
            client.request(scenario.method, path, scenario.headers, body)
    times: list[list[float]] = [[] for _ in group]
    started = time.perf_counter()
    for i in range(LATENCY_MAX_REQUESTS):
        elapsed = time.perf_counter() - started
        enough = i >= LATENCY_MIN_REQUESTS and elapsed > LATENCY_BUDGET_S * len(group)
        if enough or elapsed > LATENCY_HARD_LIMIT_S:
            break
        for client, timings, (scenario, result) in zip(clients, times, group, strict=True):
            path, body = scenario.next_request(rng)
            t0 = time.perf_counter()
            response, data = client.request(scenario.method, path, scenario.headers, body)
            timings.append(time.perf_counter() - t0)
            _check(response.status, data, result)
    for client, timings, (_scenario, result) in zip(clients, times, group, strict=True):
        client.close()
        timings.sort()
        result.samples = len(timings)
        result.p50, result.p95 = percentile(timings, 0.50), percentile(timings, 0.95)
        result.metrics["p50"] = result.p50


def _lua_string(value: str) -> str:
    if not value.isascii() or "\n" in value:
        raise ValueError(f"Not a plain ASCII header value: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def throughput_wrk(wrk: str, base_url: str, scenario: Scenario, result: Result) -> None:
    lines = [
        "local counter = 1",
        "function setup(thread) thread:set('id', counter); counter = counter + 1 end",
        "function init(args) math.randomseed(id * 7919 + os.time()) end",
        f"wrk.method = {_lua_string(scenario.method)}",
    ]
    for name, value in scenario.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    if scenario.wrk_request_lua:
        lines.append(scenario.wrk_request_lua)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        command = [
            wrk, "-t1", f"-c{THROUGHPUT_CONCURRENCY}", f"-d{THROUGHPUT_SECONDS}s",
            "--timeout", "30s", "-s", script.name, base_url + scenario.path,
        ]  # fmt: skip
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=THROUGHPUT_SECONDS + 90
        )
    finally:
        os.unlink(script.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", run.stdout)
    if run.returncode != 0 or not rps:
        result.errors.append(f"wrk failed: {run.stderr.strip() or run.stdout.strip()}"[:300])
        return
    result.rps = float(rps.group(1))
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: ([^\n]+)"):
        bad = re.search(pattern, run.stdout)
        if bad:
            result.errors.append(f"c={THROUGHPUT_CONCURRENCY}: {bad.group(0)}")


def throughput_python(base_url: str, scenario: Scenario, result: Result, seed: int) -> None:
    """The fallback load generator: THROUGHPUT_CONCURRENCY threads, each on its own
    keep-alive connection, as many requests as they can for THROUGHPUT_SECONDS."""
    done = [0] * THROUGHPUT_CONCURRENCY
    failed: list[Counter] = [Counter() for _ in range(THROUGHPUT_CONCURRENCY)]
    started = time.perf_counter()
    deadline = started + THROUGHPUT_SECONDS

    def run(k: int) -> None:
        client, rng = Http(base_url, timeout=30), _rng(f"load {seed} {k}")
        for _ in range(1_000_000):
            if time.perf_counter() >= deadline:
                break
            path, body = scenario.next_request(rng)
            try:
                response, _ = client.request(scenario.method, path, scenario.headers, body)
            except OSError as error:
                failed[k][type(error).__name__] += 1
                client.close()
                continue
            done[k] += 1
            if not 200 <= response.status < 300:
                failed[k][f"HTTP {response.status}"] += 1
        client.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THROUGHPUT_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=THROUGHPUT_SECONDS + 60)
    result.rps = sum(done) / (time.perf_counter() - started)
    failures = sum(failed, Counter())
    if failures:
        summary = ", ".join(f"{n} x {what}" for what, n in failures.most_common())
        result.errors.append(f"c={THROUGHPUT_CONCURRENCY}: failed requests: {summary}")


def count_queries(scenario: Scenario, ctx: dict, result: Result) -> None:
    """One request through Django's test Client in this process, same database."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    if "Cookie" in scenario.headers:
        client.cookies.load(scenario.headers["Cookie"])
    headers = {k: v for k, v in scenario.headers.items() if k not in {"Cookie", "Content-Type"}}
    rng = _rng("queries")

    def send():
        path, body = scenario.next_request(rng)
        return client.generic(
            scenario.method,
            path,
            data=body or b"",
            content_type=scenario.headers.get("Content-Type", "application/octet-stream"),
            headers=headers,
        )

    if not scenario.export:
        send()  # per-process caches (the floor's organization id) fill on a first request
    with CaptureQueriesContext(connection) as captured:
        response = send()
        if response.streaming:
            for _ in response.streaming_content:
                pass
    result.queries = len(captured.captured_queries)
    if os.environ.get("BENCH_SHOW_SQL") == "1":
        print(f"--- {scenario.number}. {scenario.title}: {result.queries} queries")
        for query in captured.captured_queries:
            print(f"  {query['sql'][:300]}")
    if not 200 <= response.status_code < 300:
        result.errors.append(f"in-process request answered {response.status_code}")


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command may hold spaces or parentheses: fields restart after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def measure_export(
    export_url: str, master_pid: int, scenario: Scenario, result: Result, expected_rows: int
) -> None:
    """Stream the whole export from a dedicated single-worker gunicorn; its worker's
    VmHWM (peak resident memory) afterwards is the peak of serving it."""
    workers = _children(master_pid)
    if len(workers) != 1:
        result.errors.append(f"expected one export worker under pid {master_pid}, got {workers}")
        return
    worker = workers[0]
    client = Http(export_url, timeout=600)
    client.request("GET", "/v1/customers/external/ext_0", scenario.headers)  # load the code
    baseline_kb = _status_kb(worker, "VmRSS")
    started = time.perf_counter()
    response = client.send("GET", scenario.path, scenario.headers)
    newlines = size = 0
    deadline = started + 900
    for _ in range(10_000_000):
        chunk = response.read(1 << 16)
        if not chunk or time.perf_counter() > deadline:
            break
        newlines += chunk.count(b"\n")
        size += len(chunk)
    elapsed = time.perf_counter() - started
    client.close()
    rows = newlines - 1  # the header line
    peak_kb = _status_kb(worker, "VmHWM")
    if response.status != 200:
        result.errors.append(f"HTTP {response.status}")
    if rows != expected_rows:
        result.errors.append(f"exported {rows:,} rows, expected {expected_rows:,}")
    result.p50, result.samples = elapsed, 1
    result.metrics |= {"rows_per_s": rows / elapsed, "peak_mb": peak_kb / 1024}
    result.notes.append(
        f"{rows:,} rows, {size / 1e6:,.0f} MB in {elapsed:.1f} s; "
        f"worker RSS {baseline_kb / 1024:.0f} MB before, peak {peak_kb / 1024:.0f} MB"
    )


# --- Context: the data the scenarios point at --------------------------------------------


def resolve_context(args) -> dict:
    """Look up, in-process, what the scenarios need: ids, counts, the search term."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from activity.models import Entry
    from customers.models import Customer
    from orders.models import Order
    from organizations.models import Organization
    from portal.services import customer_session_create

    organization = Organization.objects.get(slug=SCALE_SLUG)
    customers = Customer.objects.for_org(organization)
    # The customers an earlier run's POST scenario created (they have no ext_ ID): gone, so
    # every run measures the same data, and the PATCH scenario's ext_0..ext_{n-1} all exist.
    Customer.objects.filter(organization=organization, email__startswith="bench-").delete()
    live = customers.count()
    heavy = customers.filter(email=HEAVY_CUSTOMER_EMAIL).values_list("pk", flat=True).first()
    if heavy is None:
        raise SystemExit(f"No customer {HEAVY_CUSTOMER_EMAIL} in the scale organization.")
    counts = {q: customers.search(q).count() for q in SEARCH_CANDIDATES}
    search = min(
        SEARCH_CANDIDATES,
        key=lambda q: abs(math.log(max(counts[q], 1) / SEARCH_TARGET_MATCHES)),
    )
    # ext_12345 as the brief names it, or the middle customer of a smaller data set.
    external_id = "ext_12345"
    if not customers.filter(external_id=external_id).exists():
        external_id = f"ext_{live // 2}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        pg_version += f", shared_buffers {cursor.fetchone()[0]}"
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            [["customers_customer", "orders_order", "orders_subscription"]],
        )
        table_rows = dict(cursor.fetchall())
        cursor.execute("SELECT pg_database_size(current_database())")
        db_bytes = cursor.fetchone()[0]
        # What a timeline entry costs on disk: the table alone, and with its indexes.
        cursor.execute(
            "SELECT reltuples::bigint, pg_relation_size(oid), pg_total_relation_size(oid) "
            "FROM pg_class WHERE relname = 'activity_entry'"
        )
        entries, entry_heap, entry_total = cursor.fetchone()
    return {
        "customers": live,
        "heavy_id": heavy,
        "heavy_orders": Order.objects.filter(customer_id=heavy).count(),
        "search": search,
        "search_matches": counts[search],
        "external_id": external_id,
        "pg_version": pg_version,
        "table_rows": table_rows,
        "db_bytes": db_bytes,
        "token": args.token,
        "entries": entries,
        "entry_heap_bytes": entry_heap / max(entries, 1),
        "entry_total_bytes": entry_total / max(entries, 1),
        "heavy_entries": Entry.objects.filter(customer_id=heavy).count(),
        "bench_user": get_user_model().objects.get(username=BENCH_USER[0]).pk,
        "timeline_url": f"/v1/customers/{heavy}/timeline?limit=100",
        # Lasts CUSTOMER_SESSION_TTL_SECONDS (1 h by default), longer than the run.
        "portal_token": customer_session_create(customer=customers.get(pk=heavy))[1],
    }


# --- Output -----------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _mark(scenario: Scenario, metric: str, value) -> str:
    marks = [t.met(value) for t in scenario.targets if t.metric == metric]
    if not marks or None in marks:
        return ""
    return " ✓" if all(marks) else " ✗"


def render_table(scenarios: list[Scenario], results: dict[int, Result]) -> str:
    header = ["#", "Scenario", "SQL", "p50 c=1", "p95 c=1", "req/s c=16", "Targets", "Notes"]
    rows = []
    for s in scenarios:
        r = results[s.number]
        p50 = _ms(r.p50) + _mark(s, "p50", r.p50)
        if s.export:
            p50 = f"{r.p50:.1f} s" if r.p50 else "—"
        rps = "—" if r.rps is None else f"{r.rps:,.0f}" + _mark(s, "rps", r.rps)
        queries = "—" if r.queries is None else f"{r.queries}" + _mark(s, "queries", r.queries)
        notes = list(r.notes)
        if "floor_p50" in r.metrics:
            notes.insert(
                0,
                f"{r.metrics['floor_p50']:.2f}x floor p50"
                + _mark(s, "floor_p50", r.metrics["floor_p50"]),
            )
            if "floor_rps" in r.metrics:
                notes.insert(1, f"{r.metrics['floor_rps']:.2f}x floor req/s")
        if "rows_per_s" in r.metrics:
            notes.insert(
                0,
                f"{r.metrics['rows_per_s']:,.0f} rows/s"
                + _mark(s, "rows_per_s", r.metrics["rows_per_s"]),
            )
            notes.insert(
                1, f"peak {r.metrics['peak_mb']:.0f} MB" + _mark(s, "peak_mb", r.metrics["peak_mb"])
            )
            notes = notes[:2] + [f"({n})" for n in notes[2:]]
        if r.samples and not s.export:
            notes.append(f"n={r.samples}")
        notes += [f"ERROR {e}" for e in r.errors]
        rows.append([
            str(s.number), s.title, queries, p50, "—" if s.export else _ms(r.p95), rps,
            ", ".join(t.label for t in s.targets) or "(baseline)", "; ".join(notes),
        ])  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    right = {0, 2, 3, 4, 5}

    def line(cells):
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


class CpuAccount:
    """How much of the machine's CPU went to processes other than the benchmark's own
    (this process and its children such as wrk, the gunicorns, the PostgreSQL cluster)
    between `start()` and `others_share()`: the noise in the figures."""

    def __init__(self, roots: list[int]):
        self.roots = [os.getpid(), *roots]

    @staticmethod
    def _machine() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)  # busy, total (ticks)

    def _ours(self) -> int:
        parents, ticks = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            # utime, stime, and the children's that were waited for (wrk's).
            ticks[pid] = sum(int(f) for f in fields[11:15])
        ours, frontier = set(), [r for r in self.roots if r in ticks]
        while frontier:
            pid = frontier.pop()
            ours.add(pid)
            frontier += [p for p, parent in parents.items() if parent == pid and p not in ours]
        return sum(ticks[p] for p in ours)

    def start(self) -> None:
        self.machine0, self.ours0 = self._machine(), self._ours()

    def others_share(self) -> float:
        (busy1, total1), ours1 = self._machine(), self._ours()
        busy0, total0 = self.machine0
        others = (busy1 - busy0) - (ours1 - self.ours0)
        return max(others, 0) / max(total1 - total0, 1)


def cpu_busy(seconds: float = 2.0) -> float:
    """Share of CPU time spent busy over `seconds`, machine-wide (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(total1 - total0, 1)


def postmaster_pid() -> int | None:
    """The PostgreSQL server's pid, from the data directory scripts/with-postgres.sh names."""
    try:
        return int((Path(os.environ["PG_DATADIR"]) / "postmaster.pid").read_text().split()[0])
    except (KeyError, OSError, ValueError, IndexError):
        return None


def cpu_speed() -> float:
    """Milliseconds of a fixed pure-Python loop, the best of five: the same code runs at
    different speeds as a virtual machine's host is busier or quieter (by up to 1.6x here
    within minutes), and every latency in the table moves with it."""

    def loop() -> float:
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        return (time.perf_counter() - start) * 1000

    return min(loop() for _ in range(5))


def machine_facts(ctx: dict, args, load_generator: str) -> list[tuple[str, str]]:
    import django

    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    try:
        import gunicorn

        gunicorn_version = gunicorn.__version__
    except ImportError:
        gunicorn_version = "?"
    rows = ctx["table_rows"]
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("nproc", str(len(os.sched_getaffinity(0)))),
        ("CPU", cpu.group(1).strip() if cpu else platform.processor() or "?"),
        ("memory", f"{mem_kb / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("PostgreSQL", ctx["pg_version"]),
        ("Python", platform.python_version()),
        ("Django", django.get_version()),
        ("server", f"gunicorn {gunicorn_version}, {args.workers} workers x {args.threads} "
                   "threads, DEBUG off, CONN_MAX_AGE=600"),
        ("load generator", load_generator),
        ("CPU busy before", f"{ctx['cpu_busy']:.0%} (2 s sample, servers idle)"),
        ("CPU speed", "a fixed Python loop took {:.0f} ms before the run and {:.0f} ms after "
                      "(a virtual machine's CPU speed drifts: compare runs by it)".format(
                          *ctx["cpu_speed"])),
        ("CPU to others", f"{ctx['cpu_others']:.0%} of the machine during the run went to "
                          "processes other than the benchmark's"),
        ("data", f"{ctx['customers']:,} customers in the scale organization; tables "
                 f"≈{rows.get('customers_customer', 0):,} customers, "
                 f"≈{rows.get('orders_order', 0):,} orders, "
                 f"≈{rows.get('orders_subscription', 0):,} subscriptions; database "
                 f"{ctx['db_bytes'] / 2**30:.1f} GiB"),
        ("timeline", f"≈{ctx['entries']:,} entries; "
                     f"{ctx['entry_heap_bytes']:.0f} B per entry in the table "
                     f"(aim ≤ 300 B), {ctx['entry_total_bytes']:.0f} B with its indexes"),
    ]  # fmt: skip


def write_results(path: Path, table: str, facts: list[tuple[str, str]]) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run.sh); see bench/README.md for what each number",
        "means. Re-running overwrites this file.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in facts),
        "",
        "```",
        table,
        "```",
        "",
    ]
    path.write_text("\n".join(lines))


def write_json(
    path: Path,
    scenarios: list[Scenario],
    results: dict[int, Result],
    ctx: dict,
    facts: list[tuple[str, str]],
) -> None:
    """The figures of the table, machine-readable (bench/sizes.py reads them)."""

    def ms_or_none(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 3)

    data = {
        "customers": ctx["customers"],
        "db_bytes": ctx["db_bytes"],
        "table_rows": ctx["table_rows"],
        "entries": ctx["entries"],
        "deep_pages": DEEP_PAGES,
        "facts": dict(facts),
        "scenarios": [
            {
                "number": s.number,
                "name": s.title,
                "p50_ms": None if s.export else ms_or_none(results[s.number].p50),
                "p95_ms": None if s.export else ms_or_none(results[s.number].p95),
                "sql": results[s.number].queries,
                "rps": results[s.number].rps,
                "samples": results[s.number].samples,
                "targets": [
                    {
                        "metric": t.metric,
                        "limit": t.limit,
                        "at_most": t.at_most,
                        "label": t.label,
                        "met": t.met(results[s.number].metrics.get(t.metric)),
                    }
                    for t in s.targets
                ],
                "metrics": results[s.number].metrics,
                "errors": results[s.number].errors,
            }
            for s in scenarios
        ],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"Figures written to {path}.")


# --- Main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the app's gunicorn (loopback)")
    parser.add_argument("--export-url", required=True, help="the single-worker export gunicorn")
    parser.add_argument("--export-pid", type=int, required=True, help="its master's pid")
    parser.add_argument("--app-pid", type=int, default=None, help="the app gunicorn's pid")
    parser.add_argument("--token", required=True)
    parser.add_argument("--workers", default="?")
    parser.add_argument("--threads", default="?")
    parser.add_argument("--results", type=Path, default=None, help="write RESULTS.md here")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scenario numbers")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write each scenario's figures here (JSON)"
    )
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the c=16 runs (p50 at c=1 only)"
    )
    parser.add_argument(
        "--also-pid", type=int, nargs="*", default=[], help="more of the benchmark's processes"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    logging.disable(logging.INFO)  # the in-process requests' log lines (servers keep theirs)

    # BENCH_PYTHON_LOAD=1 uses the Python load generator even where wrk is installed.
    wrk = None if os.environ.get("BENCH_PYTHON_LOAD") == "1" else shutil.which("wrk")
    if wrk:
        version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split()
        load_generator = f"wrk {version[1] if len(version) > 1 else ''} (1 thread, 16 connections)"
    else:
        load_generator = "Python: 16 threads, http.client keep-alive (no wrk)"
    log = print if sys.stdout.isatty() else lambda *a: print(*a, flush=True)

    log("Resolving the scenario data ...")
    ctx = resolve_context(args)
    ctx["session"] = login(args.url)
    ctx["portal_cookie"] = portal_sign_in(args.url, ctx["portal_token"])
    dashboard = f"/dashboard/{SCALE_SLUG}/customers/"
    log(f"Following {DEEP_PAGES} 'Load more' cursors for the deep list page ...")
    ctx["deep_url"] = deep_list_url(args.url, {"Cookie": f"sessionid={ctx['session']}"}, dashboard)
    if not args.only or 29 in args.only:
        ctx["revenue_deep_url"] = deep_list_url(
            args.url,
            {"Cookie": f"sessionid={ctx['session']}"},
            f"{dashboard}?sorting=-lifetime_revenue",
        )
    ctx["timeline_deep_url"] = deep_timeline_url(
        args.url, {"Authorization": f"Bearer {ctx['token']}"}, ctx["timeline_url"]
    )
    scenarios = build_scenarios(ctx)
    if args.only:
        scenarios = [s for s in scenarios if s.number in args.only]
    results = {s.number: Result() for s in scenarios}
    # The floor runs right after the API lookup it is compared with, so both meet the
    # machine in the same state; the table keeps the numbering.
    order = sorted(scenarios, key=lambda s: 6.5 if s.number == 10 else s.number)

    busy = cpu_busy()
    ctx["cpu_busy"] = busy
    ctx["cpu_speed"] = [cpu_speed()]
    if busy > 0.2:
        log(f"warning: the CPUs were {busy:.0%} busy before the run: the figures will be noisy.")
    account = CpuAccount(
        [args.app_pid or 0, args.export_pid, postmaster_pid() or 0, *args.also_pid]
    )
    account.start()
    by_number = {s.number: s for s in scenarios}
    timed: set[int] = set()
    for step, s in enumerate(order, 1):
        r = results[s.number]
        log(f"[{step}/{len(order)}] {s.number}. {s.title} ...")
        try:
            count_queries(s, ctx, r)
            if s.export:
                measure_export(args.export_url, args.export_pid, s, r, ctx["customers"])
                continue
            if s.number not in timed:
                group = [s]
                partner = by_number.get(PAIRED.get(s.number, 0))
                if partner:
                    group.append(partner)
                    r.notes.append(f"c=1 alternating with #{partner.number}")
                    results[partner.number].notes.append(f"c=1 alternating with #{s.number}")
                for member in group:
                    warm_up(args.url, member, seed=member.number)
                measure_latency(args.url, [(m, results[m.number]) for m in group], s.number)
                timed.update(m.number for m in group)
            if s.concurrent and not args.no_throughput:
                if wrk:
                    throughput_wrk(wrk, args.url, s, r)
                else:
                    throughput_python(args.url, s, r, seed=s.number)
        except Exception as error:  # one broken scenario must not hide the others
            r.errors.append(f"{type(error).__name__}: {error}"[:300])

    ctx["cpu_others"] = account.others_share()
    ctx["cpu_speed"].append(cpu_speed())
    api, floor = results.get(6), results.get(10)
    if api and floor and api.p50 and floor.p50:
        api.metrics["floor_p50"] = api.p50 / floor.p50
        if api.rps and floor.rps:
            api.metrics["floor_rps"] = floor.rps / api.rps
    for r in results.values():
        if r.rps is not None:
            r.metrics["rps"] = r.rps
        if r.queries is not None:
            r.metrics["queries"] = r.queries

    table = render_table(scenarios, results)
    facts = machine_facts(ctx, args, load_generator)
    print()
    for key, value in facts:
        print(f"{key:>15}: {value}")
    print()
    print(table)
    print()
    met = [t.met(results[s.number].metrics.get(t.metric)) for s in scenarios for t in s.targets]
    print(f"Targets met: {met.count(True)} of {len(met)}.")
    if ctx["cpu_others"] > 0.1:
        print(
            f"warning: other processes used {ctx['cpu_others']:.0%} of the CPU during the run; "
            "the figures are skewed: benchmark on a quiet machine."
        )
    if args.results:
        write_results(args.results, table, facts)
        print(f"Written to {args.results}.")
    if args.json:
        write_json(args.json, scenarios, results, ctx, facts)
    failed = any(r.errors for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

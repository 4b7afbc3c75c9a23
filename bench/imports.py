"""The import benchmark (issue 15): a large CSV file imported into the scale organization.

Run by bench/run.sh after the other scenarios, inside its PostgreSQL environment, once
gunicorn serves the app:

    python -m bench.imports --url http://127.0.0.1:PORT --token polar_oat_... [--only 21 22]

What it does, against the organization `scale` and its million seeded customers:
1. writes a CSV of BENCH_IMPORT_ROWS rows (default 1,000,000) in a temporary directory:
   half the rows update seeded customers (distinct ones, drawn at random; 70 % matched by
   external ID, 30 % by email alone), half create new customers (emails and external IDs
   `bench-import-<run>-<n>`); columns external_id, email, name, country, metadata.region
   and metadata.seats, the name and metadata drawn from seed_scale's own choices, so the
   updated customers keep the seeded data's distribution;
2. subscribes a webhook endpoint of the organization to every customer event (its
   deliveries stay pending: no webhook worker runs), so the apply writes webhook events;
3. starts the import (imports.services.import_create) and runs the worker for its dry run
   as a separate process, `manage.py run_jobs --once --only imports`; then times the
   customer lists idle, queues the apply (import_apply) and runs a second worker for it,
   timing the same lists while it works;
4. removes what the import created: its customers, their and the updated customers'
   timeline entries, the webhook events and deliveries, the endpoint, the import.

Rows per second are over the phase as the import records it (`phase_started_at` to the
end of the phase), so the worker's start-up is left out; the worker's peak memory is its
`ru_maxrss` (os.wait4), the same figure as /proc's VmHWM.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import scenarios as sc

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
NUMBERS = (21, 22, 23, 24)
EMAIL_PREFIX = "bench-import-"
HOOK_URL = "https://hooks.example.com/bench-import"
CUSTOMER_EVENTS = [
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.state_changed",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "JP", "BR", "IN", "CA"]
UPDATE_SHARE = 0.5
BY_EMAIL_ONLY = 0.3  # of the update rows: external ID left blank, matched by email
NO_EXTERNAL_ID = 0.3  # of the new customers: no external ID
LIST_PACE_S = 0.1  # one list request every 100 ms (each URL in turn): a few busy users
IDLE_REQUESTS = 60  # per URL
IDLE_BUDGET_S = 20.0
ms = 1e-3


def log(*args) -> None:
    print(*args, flush=True)


# --- The file ---------------------------------------------------------------------------


def write_csv(path: Path, rows: int, customers: int, tag: str, rng: random.Random) -> dict:
    """The file, and what each row is expected to do."""
    from demo.management.commands.seed_scale import FIRST, LAST, REGIONS

    updates = min(round(rows * UPDATE_SHARE), customers - 1)
    # Distinct seeded customers, user0 (the heavy one the other scenarios read) left out.
    picked = rng.sample(range(1, customers), updates)
    kinds = [True] * updates + [False] * (rows - updates)
    rng.shuffle(kinds)
    it = iter(picked)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("external_id,email,name,country,metadata.region,metadata.seats\n")
        lines = []
        for i, update in enumerate(kinds):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            tail = f"{name},{rng.choice(COUNTRIES)},{rng.choice(REGIONS)},{rng.randint(1, 50)}"
            if update:
                n = next(it)
                external_id = "" if rng.random() < BY_EMAIL_ONLY else f"ext_{n}"
                lines.append(f"{external_id},user{n}@example.com,{tail}\n")
            else:
                key = f"{EMAIL_PREFIX}{tag}-{i}"
                external_id = "" if rng.random() < NO_EXTERNAL_ID else key
                lines.append(f"{external_id},{key}@example.com,{tail}\n")
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)
    return {"update": updates, "create": rows - updates, "sample": picked[:1000]}


def check_pattern(organization, sample: list[int]) -> None:
    """The update rows name seeded customers by seed_scale's pattern (user<n>@example.com,
    ext_<n>): check a sample of them exists as such, in one query."""
    from customers.models import Customer

    found = (
        Customer.objects.for_org(organization)
        .filter(external_id__in=[f"ext_{n}" for n in sample])
        .values_list("external_id", "email")
    )
    good = sum(1 for x, e in found if e == f"user{x[4:]}@example.com")
    if good != len(sample):
        raise SystemExit(
            f"Only {good} of {len(sample)} sampled customers are ext_<n> / user<n>@example.com:"
            " the scale data is not seed_scale's."
        )


# --- Cleaning up ------------------------------------------------------------------------


def clean_up(organization) -> dict:
    """Remove what any bench import left in the organization (this run's or an aborted
    earlier one's). Updated customers keep their new values (drawn like the seed's)."""
    from django.db import connection, transaction

    from imports.models import CustomerImport
    from webhooks.models import WebhookEndpoint

    imports = list(
        CustomerImport.objects.filter(
            organization=organization, filename__startswith=EMAIL_PREFIX
        ).values_list("id", "created_at")
    )
    endpoints = list(
        WebhookEndpoint.objects.filter(organization=organization, url=HOOK_URL).values_list(
            "id", flat=True
        )
    )
    removed = Counter()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if imports:
            since = min(created for _, created in imports)
            cursor.execute(
                "DELETE FROM activity_entry WHERE organization_id = %s AND created_at >= %s "
                "AND request_id = ANY(%s)",
                [organization.pk, since, [str(pk) for pk, _ in imports]],
            )
            removed["entries"] = cursor.rowcount
        if endpoints:
            cursor.execute(
                "WITH d AS (DELETE FROM webhooks_webhookdelivery WHERE endpoint_id = ANY(%s) "
                "RETURNING event_id) "
                "DELETE FROM webhooks_webhookevent e USING (SELECT DISTINCT event_id FROM d) d "
                "WHERE e.id = d.event_id AND NOT EXISTS (SELECT 1 FROM webhooks_webhookdelivery"
                " x WHERE x.event_id = e.id AND x.endpoint_id <> ALL(%s))",
                [endpoints, endpoints],
            )
            removed["events"] = cursor.rowcount
            cursor.execute("DELETE FROM webhooks_webhookendpoint WHERE id = ANY(%s)", [endpoints])
        # The counters' row triggers keep the organization's counts as the rows go.
        cursor.execute(
            "DELETE FROM customers_customer WHERE organization_id = %s AND email LIKE %s",
            [organization.pk, EMAIL_PREFIX + "%"],
        )
        removed["customers"] = cursor.rowcount
        for pk, _ in imports:
            customer_import = CustomerImport.objects.get(pk=pk)
            customer_import.file.delete(save=False)
            customer_import.delete()
    removed["seconds"] = round(time.perf_counter() - started, 1)
    return dict(removed)


# --- The worker -------------------------------------------------------------------------


class Worker:
    """`manage.py run_jobs --once --only imports` in a process of its own, watched."""

    def __init__(self, env: dict, profile: Path | None, phase: str):
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_jobs", "--once", "--only", "imports"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.spy = None
        if profile is not None:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            self.raw = profile / f"{phase}.txt"
            self.spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(self.proc.pid),
                    "--rate",
                    "100",
                    "--idle",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(self.raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

    def wait(self, timeout: float) -> tuple[int, int, float]:
        """(exit status, peak RSS in kB, wall seconds)."""
        deadline = time.monotonic() + timeout
        while _running(self.proc.pid):
            if time.monotonic() > deadline:
                self.proc.kill()
                break
            time.sleep(0.2)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.output = self.proc.stdout.read()
        if self.spy is not None:
            self.spy.wait(timeout=120)
        return self.proc.returncode, usage.ru_maxrss, time.perf_counter() - self.started


def _running(pid: int) -> bool:
    """Running, and not yet a zombie (os.wait4 then reaps it with its resource usage)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_phase(customer_import, env, profile, phase: str, on_tick=None) -> dict:
    """Run one worker over the import's phase under way; its figures."""
    from imports.models import CustomerImport

    worker = Worker(env, profile, phase)
    last_log = time.monotonic()
    ticks = []
    while _running(worker.proc.pid):
        time.sleep(0.5)
        current = CustomerImport.objects.get(pk=customer_import.pk)
        if on_tick:
            on_tick(current)
        if current.phase_started_at and current.rows_done:
            ticks.append((time.perf_counter(), current.rows_done))
        if time.monotonic() - last_log > 15:
            last_log = time.monotonic()
            log(f"    {phase}: {current.rows_done:,} rows, {current.rows_per_second:,.0f} rows/s")
    code, peak_kb, wall = worker.wait(timeout=3600)
    current = CustomerImport.objects.get(pk=customer_import.pk)
    end = current.finished_at or current.modified_at
    seconds = (end - current.phase_started_at).total_seconds() if current.phase_started_at else 0
    figures = {
        "status": current.status,
        "code": code,
        "peak_mb": peak_kb / 1024,
        "wall_s": wall,
        "phase_s": seconds,
        "rows": current.rows_done,
        "rows_per_s": current.rows_done / seconds if seconds else 0.0,
        "counts": current.counts,
        "output": worker.output.strip()[-2000:],
        "import": current,
    }
    if profile is not None:
        figures["profile"] = worker.raw
    return figures


# --- The lists, idle and during the apply -----------------------------------------------


class Lists:
    """The API customer list and the dashboard's, one request every LIST_PACE_S in turn,
    on one keep-alive connection each."""

    def __init__(self, base_url: str, token: str, session: str | None):
        self.targets = [("api", "/v1/customers/?limit=100", {"Authorization": f"Bearer {token}"})]
        if session:
            self.targets.append(
                (
                    "dashboard",
                    f"/dashboard/{sc.SCALE_SLUG}/customers/",
                    {"Cookie": f"sessionid={session}"},
                )
            )
        self.clients = {name: sc.Http(base_url, timeout=60) for name, _, _ in self.targets}
        self.errors: list[str] = []

    def sample(self, until, max_per_url: int | None = None, record=lambda: True) -> dict:
        times = {name: [] for name, _, _ in self.targets}
        for name, path, headers in self.targets:  # each connection's first request untimed
            self.clients[name].request("GET", path, headers)
        while not until():
            for name, path, headers in self.targets:
                t0 = time.perf_counter()
                response, body = self.clients[name].request("GET", path, headers)
                elapsed = time.perf_counter() - t0
                if response.status != 200 and len(self.errors) < 3:
                    self.errors.append(f"{name}: HTTP {response.status} {body[:120]!r}")
                if record():
                    times[name].append(elapsed)
                time.sleep(max(0.0, LIST_PACE_S - elapsed))
            if max_per_url and min(len(t) for t in times.values()) >= max_per_url:
                break
        return {name: sorted(t) for name, t in times.items()}


def p50(values: list[float]) -> float | None:
    return sc.percentile(values, 0.5) if values else None


# --- Profiles ---------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def summarize_profile(raw: Path, top: int = 15) -> str:
    """py-spy's raw (collapsed) stacks: the functions with the most samples on the stack
    (inclusive) among the project's own code, and the most samples on top (self)."""
    inclusive, own = Counter(), Counter()
    total = 0
    root = str(Path(__file__).resolve().parent.parent) + "/"
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match:
                path = match["file"].replace(root, "")
                path = re.sub(r".*/site-packages/", "", path)
                frames.append(f"{match['func']} ({path})")
            else:
                frames.append(frame)
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            if not re.search(r"\((\.venv|/usr|<)", frame) and "site-packages" not in frame:
                inclusive[frame] += n
    if not total:
        return f"{raw}: no samples"
    lines = [f"{raw.name}: {total:,} samples", "  self (on top of the stack):"]
    lines += [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines.append("  inclusive (the project's functions):")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top + 10)]
    return "\n".join(lines)


# --- Main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the app's gunicorn (loopback)")
    parser.add_argument("--token", required=True, help="a customers:read token of scale")
    parser.add_argument("--rows", type=int, default=ROWS, help="rows in the file")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scenario numbers")
    parser.add_argument("--results", type=Path, default=None, help="add the table to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record each phase's worker with py-spy into this directory",
    )
    parser.add_argument("--keep", action="store_true", help="leave the import's data in place")
    args = parser.parse_args(argv)
    only = set(args.only or NUMBERS)
    if not only & set(NUMBERS):
        return 0
    apply_wanted = bool(only & {22, 23, 24})

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    # The uploaded file goes to the storage under MEDIA_ROOT: a scratch one, shared with
    # the worker processes.
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    logging.disable(logging.INFO)

    from django.contrib.auth import get_user_model
    from django.core.files import File

    from core.changes import Actor, ActorType, Source, acting
    from customers.models import Customer
    from imports.models import CustomerImport
    from imports.services import import_apply, import_create
    from organizations.models import Organization
    from webhooks.models import WebhookEndpoint

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    organization = Organization.objects.get(slug=sc.SCALE_SLUG)
    leftovers = clean_up(organization)
    if leftovers.get("customers") or leftovers.get("entries"):
        log(f"Removed an earlier bench import's leftovers: {leftovers}")
    customers = Customer.objects.for_org(organization).count()
    # seed_scale's customers are ext_0 .. ext_<n-1> (others, such as the POST scenario's,
    # have no ext_ ID): the update rows pick among those.
    seeded = Customer.objects.for_org(organization).filter(external_id__startswith="ext_").count()
    tag = f"{sc.RUN_SEED:x}"[:10]
    rng = random.Random(f"{sc.RUN_SEED} import")
    csv_path = workdir / f"{EMAIL_PREFIX}{tag}.csv"
    started = time.perf_counter()
    expected = write_csv(csv_path, args.rows, seeded, tag, rng)
    size = csv_path.stat().st_size
    log(
        f"Wrote {args.rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s:"
        f" {expected['update']:,} updates of the {customers:,} customers, "
        f"{expected['create']:,} new"
    )
    check_pattern(organization, expected["sample"])

    env = dict(os.environ)
    results = {n: sc.Result() for n in NUMBERS}
    scenarios = build(args.rows)
    status = 0
    user = get_user_model().objects.get(username=sc.BENCH_USER[0])
    try:
        WebhookEndpoint.objects.create(
            organization=organization, url=HOOK_URL, events=CUSTOMER_EVENTS
        )
        with (
            acting(
                actor=Actor(ActorType.USER, str(user.pk), "Bench Owner"), source=Source.DASHBOARD
            ),
            csv_path.open("rb") as f,
        ):
            customer_import = import_create(
                organization=organization, file=File(f, name=csv_path.name), filename=csv_path.name
            )
        log(
            f"[21] Dry run of {args.rows:,} rows (worker: manage.py run_jobs --once --only imports)"
        )
        dry = run_phase(customer_import, env, args.profile, "dry-run")
        record_phase(results[21], dry, CustomerImport.Status.READY)
        counts = dry["counts"]
        log(
            f"    {dry['rows_per_s']:,.0f} rows/s over {dry['phase_s']:.1f} s "
            f"(process {dry['wall_s']:.1f} s), peak RSS {dry['peak_mb']:.0f} MB; counts {counts}"
        )
        if (
            counts.get("create") != expected["create"]
            or counts.get("update", 0) + counts.get("unchanged", 0) != expected["update"]
        ):
            results[21].errors.append(
                f"expected {expected['create']:,} creates and "
                f"{expected['update']:,} updates, got {counts}"
            )
        if apply_wanted and dry["status"] == CustomerImport.Status.READY:
            session = sc.login(args.url) if 24 in only else None
            lists = Lists(args.url, args.token, session)
            log("[23/24] Customer lists idle ...")
            deadline = time.monotonic() + IDLE_BUDGET_S
            idle = lists.sample(lambda: time.monotonic() > deadline, IDLE_REQUESTS)
            applying = threading.Event()
            done = threading.Event()
            during: dict = {}

            def watch() -> None:
                try:
                    during.update(lists.sample(done.is_set, record=applying.is_set))
                except Exception as error:
                    lists.errors.append(f"{type(error).__name__}: {error}")

            customer_import = import_apply(customer_import=dry["import"], skip_errors=False)
            log(f"[22] Apply of {args.rows:,} rows, with timeline entries and webhook events")
            thread = threading.Thread(target=watch)
            thread.start()

            def tick(current) -> None:
                if current.phase_started_at and current.status == CustomerImport.Status.APPLYING:
                    applying.set()
                else:
                    applying.clear()

            try:
                applied = run_phase(customer_import, env, args.profile, "apply", on_tick=tick)
            finally:
                applying.clear()
                done.set()
                thread.join(timeout=120)
            record_phase(results[22], applied, CustomerImport.Status.DONE)
            written = written_by(applied["import"])
            results[22].notes.append(
                f"{applied['counts'].get('created', 0):,} created, "
                f"{applied['counts'].get('updated', 0):,} updated; {written['entries']:,} "
                f"timeline entries, {written['events']:,} webhook events"
            )
            log(
                f"    {applied['rows_per_s']:,.0f} rows/s over {applied['phase_s']:.1f} s "
                f"(process {applied['wall_s']:.1f} s), peak RSS {applied['peak_mb']:.0f} MB; "
                f"{written}"
            )
            for number, name in ((23, "api"), (24, "dashboard")):
                if name in idle:
                    record_list(results[number], idle[name], during.get(name, []))
                    log(
                        f"    {name} list p50: idle {_ms(p50(idle[name]))}, during the apply "
                        f"{_ms(p50(during.get(name, [])))} (n={len(during.get(name, []))})"
                    )
            results[23].errors += lists.errors
    finally:
        if not args.keep:
            removed = clean_up(organization)
            log(f"Removed the import's data: {removed}")
        shutil.rmtree(workdir, ignore_errors=True)

    shown = [s for s in scenarios if s.number in only and (s.number == 21 or apply_wanted)]
    table = sc.render_table(shown, results)
    print()
    print(table)
    met = [t.met(results[s.number].metrics.get(t.metric)) for s in shown for t in s.targets]
    print(f"Import targets met: {met.count(True)} of {len(met)}.")
    if args.profile:
        for raw in sorted(args.profile.glob("*.txt")):
            print()
            print(summarize_profile(raw))
    if args.results:
        write_section(args.results, table, args.rows, size, customers)
        print(f"Added to {args.results}.")
    if any(results[s.number].errors for s in shown):
        status = 1
    return status


def build(rows: int) -> list[sc.Scenario]:
    k = f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows:,}"
    return [
        sc.Scenario(
            21,
            f"Import dry run, {k} rows",
            "",
            {},
            concurrent=False,
            export=True,
            targets=[
                sc.Target("rows_per_s", 20_000, at_most=False, label="≥ 20k rows/s"),
                sc.Target("peak_mb", 300, label="peak ≤ 300 MB"),
            ],
        ),
        sc.Scenario(
            22,
            f"Import apply, {k} rows (timeline, webhooks)",
            "",
            {},
            concurrent=False,
            export=True,
            targets=[
                sc.Target("rows_per_s", 10_000, at_most=False, label="≥ 10k rows/s"),
                sc.Target("peak_mb", 300, label="peak ≤ 300 MB"),
            ],
        ),
        sc.Scenario(
            23,
            "API list, limit 100, during the apply",
            "/v1/customers/?limit=100",
            {},
            concurrent=False,
            targets=[sc.Target("idle_ratio", 2.0, label="p50 ≤ 2x idle")],
        ),
        sc.Scenario(
            24,
            "Dashboard list during the apply",
            "",
            {},
            concurrent=False,
            targets=[sc.Target("idle_ratio", 2.0, label="p50 ≤ 2x idle")],
        ),
    ]


def record_phase(result: sc.Result, figures: dict, expected_status: str) -> None:
    result.p50, result.samples = figures["phase_s"], 1
    result.metrics |= {"rows_per_s": figures["rows_per_s"], "peak_mb": figures["peak_mb"]}
    result.notes.append(
        f"{figures['rows']:,} rows in {figures['phase_s']:.1f} s, worker process "
        f"{figures['wall_s']:.1f} s"
    )
    if figures["code"] != 0 or figures["status"] != expected_status:
        result.errors.append(
            f"worker exited {figures['code']} with the import {figures['status']}: "
            f"{figures['import'].failure or figures['output'][-300:]}"
        )


def record_list(result: sc.Result, idle: list[float], during: list[float]) -> None:
    if not during:
        result.errors.append("no request completed during the apply")
        return
    result.p50, result.p95 = p50(during), sc.percentile(during, 0.95)
    result.samples = len(during)
    ratio = result.p50 / p50(idle)
    result.metrics["idle_ratio"] = ratio
    mark = " ✓" if ratio <= 2.0 else " ✗"
    result.notes += [
        f"{ratio:.2f}x idle p50{mark}",
        f"idle p50 {_ms(p50(idle))} (n={len(idle)})",
        f"paced: 1 request per {LIST_PACE_S * 1000:.0f} ms",
    ]


def written_by(customer_import) -> dict:
    """The timeline entries and webhook events the apply wrote."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM activity_entry WHERE organization_id = %s "
            "AND created_at >= %s AND request_id = %s",
            [customer_import.organization_id, customer_import.created_at, str(customer_import.pk)],
        )
        entries = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM webhooks_webhookdelivery d JOIN webhooks_webhookendpoint w "
            "ON w.id = d.endpoint_id WHERE w.url = %s AND w.organization_id = %s",
            [HOOK_URL, customer_import.organization_id],
        )
        events = cursor.fetchone()[0]
    return {"entries": entries, "events": events}


def _ms(seconds: float | None) -> str:
    return sc._ms(seconds)


def write_section(path: Path, table: str, rows: int, size: int, customers: int) -> None:
    """The import's table, as a section of its own after the main table (replacing an
    earlier run's)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    text = text.split("\n## Import (issue 15)\n")[0].rstrip("\n") + "\n"
    text += "\n".join(
        [
            "",
            "## Import (issue 15)",
            "",
            f"A CSV of {rows:,} rows ({size / 1e6:.0f} MB; half updates of the {customers:,} "
            "customers of `scale`, half new customers) imported by `manage.py run_jobs --once "
            "--only imports`, with a webhook endpoint subscribed to the customer events "
            "(bench/imports.py; see bench/README.md).",
            "",
            "```",
            table,
            "```",
            "",
        ]
    )
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

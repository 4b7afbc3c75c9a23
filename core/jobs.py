"""The background jobs, run by one command (`manage.py run_jobs`).

Each app registers a job at start (its `AppConfig.ready()`): a function that does some of
the work that is due (deliver a batch of webhooks, advance an import) and returns how much
it did, 0 when nothing was due. The work itself lives in the apps' own tables (a delivery
is due when its `next_attempt_at` has passed, an import while it is validating or
applying), each claimed with a lease under SKIP LOCKED, so any number of workers on any
number of machines share it and a killed worker's work is taken up again when its lease
runs out. A separate queue table would hold a second copy of that state, to keep in step
with the first; there is nothing for it to add.
"""

from collections.abc import Callable

Job = Callable[[], int]
_jobs: dict[str, Job] = {}
_every: dict[str, float] = {}


def register(name: str, job: Job, *, every: float = 0.0) -> None:
    """Register `job`; with `every`, a worker that found nothing due polls it again only
    after that many seconds (renewals: once a minute is soon enough, and spares the due
    query every second)."""
    _jobs[name] = job
    _every[name] = every


def idle_wait(name: str, interval: float) -> float:
    """Seconds a worker waits before polling the job `name` again after it found nothing."""
    return max(interval, _every.get(name, 0.0))


def registered() -> dict[str, Job]:
    return dict(_jobs)

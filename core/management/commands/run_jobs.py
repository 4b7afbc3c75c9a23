import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections

from core import jobs

logger = logging.getLogger("core.jobs")


class Command(BaseCommand):
    help = (
        "Run every background job (webhook delivery, imports, renewals, emails): until "
        "stopped, each job in a thread of its own so a long import never delays a webhook; "
        "with --once, what is due now, then exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument(
            "--only", action="append", default=[], metavar="JOB", help="Run only this job."
        )

    def handle(self, *args, once: bool, interval: float, only: list[str], **options):
        registered = jobs.registered()
        unknown = sorted(set(only) - set(registered))
        if unknown:
            raise CommandError(
                f"Unknown job(s) {', '.join(unknown)}; there are {', '.join(registered)}."
            )
        selected = {name: job for name, job in registered.items() if not only or name in only}
        if once:
            for name, job in selected.items():
                done = 0
                while work := job():
                    done += work
                self.stdout.write(f"{name}: {done}")
            return
        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.set())
        threads = [
            threading.Thread(
                target=_loop, args=(job, stopping, jobs.idle_wait(name, interval)), name=name
            )
            for name, job in selected.items()
        ]
        for thread in threads:
            thread.start()
        self.stdout.write(f"running {', '.join(selected)} (stop with Ctrl-C or SIGTERM)")
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
        self.stdout.write("stopped")


def _loop(job: jobs.Job, stopping: threading.Event, interval: float) -> None:
    """Run `job` until stopped: at once again while it finds work, else after `interval`
    (the job's own `every`, when longer: core.jobs.idle_wait).
    A failing run is logged and retried (the database may be away for a moment); the
    stop is seen between runs, so a run under way finishes its batch."""
    try:
        while not stopping.is_set():
            close_old_connections()
            try:
                work = job()
            except Exception:
                logger.exception("job %s failed; retrying", threading.current_thread().name)
                work = 0
            if not work:
                stopping.wait(interval)
    finally:
        connections.close_all()

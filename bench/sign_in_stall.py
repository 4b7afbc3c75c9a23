"""The load half of bench/sign_in_stall.sh: API latency alone, then beside 3 clients that
fail sign-ins without ever reaching a lock."""

import statistics
import sys
import threading
import time

import httpx

ATTACKERS = 3
REQUESTS = 100


def fail_sign_ins(base: str, attacker: int, stop: threading.Event) -> None:
    client = httpx.Client(base_url=base, timeout=30)
    n = 0
    while not stop.is_set():
        # Under every limit: 4 failures per username, 19 per address.
        address = f"10.{attacker}.{(n // 19) % 250}.{1 + (n // (19 * 250)) % 250}"
        headers = {"X-Forwarded-For": address}
        client.get("/login/", headers=headers)
        client.post(
            "/login/",
            data={
                "username": f"guesser{attacker}-{n // 4}",
                "password": "wrong",
                "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
            },
            headers={**headers, "Referer": base + "/login/"},
        )
        n += 1


def api_latencies(base: str, token: str) -> list[float]:
    client = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"})
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get("/v1/customers/")
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"the API answered {response.status_code}")
    return timings


def main() -> None:
    base, token = sys.argv[1], sys.argv[2]
    alone = api_latencies(base, token)
    stop = threading.Event()
    threads = [
        threading.Thread(target=fail_sign_ins, args=(base, k, stop), daemon=True)
        for k in range(ATTACKERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(2)
    beside = api_latencies(base, token)
    stop.set()
    for label, timings in (("alone", alone), (f"beside {ATTACKERS} failing sign-ins", beside)):
        print(
            f"GET /v1/customers/ {label}: p50 {statistics.median(timings):.1f} ms, "
            f"max {max(timings):.1f} ms (n={len(timings)})"
        )


if __name__ == "__main__":
    main()

"""Several nodes on one database and one Redis: two gunicorn processes (one on psycopg's
pool, both through PgBouncer in transaction pooling) share the API's rate limit; two
`run_jobs` workers share the webhook deliveries and the renewals, each done once."""

import json
import time
from collections import Counter

import httpx
import pytest

from orders.models import Order
from organizations.services import access_token_create
from tests.checkouts.test_renewals_job import due_subscription
from tests.cluster.conftest import Web, Worker
from tests.conftest import ALL_SCOPES
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import Receiver
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def organization():
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def token(organization):
    return access_token_create(organization=organization, name="nodes", scopes=ALL_SCOPES)[1]


def _clear_of_a_window_edge(seconds: int = 60, margin: float = 15) -> None:
    """The limit counts per fixed minute: start well inside one."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.5)


def test_two_web_processes_share_one_rate_limit(token, tmp_path, processes):
    limit = 20
    a = Web(tmp_path, "web-a", API_RATE_LIMIT_PER_MINUTE=str(limit))
    processes.append(a)
    b = Web(tmp_path, "web-b", API_RATE_LIMIT_PER_MINUTE=str(limit), DATABASE_POOL="true")
    processes.append(b)
    headers = {"Authorization": f"Bearer {token}"}
    _clear_of_a_window_edge()
    statuses = Counter()
    with httpx.Client(headers=headers, timeout=10) as http:
        for _ in range(15):
            for web in (a, b):
                response = http.get(f"{web.url}/v1/customers/", params={"limit": 1})
                statuses[response.status_code] += 1
                if response.status_code == 429:
                    assert int(response.headers["Retry-After"]) >= 1
    # One counter in Redis for both processes: 20 served in all, not 20 by each.
    assert statuses == {200: limit, 429: 30 - limit}


def test_writes_through_pgbouncer_and_the_pool_from_both_processes(token, tmp_path, processes):
    a = Web(tmp_path, "web-a")
    processes.append(a)
    b = Web(tmp_path, "web-b", DATABASE_POOL="true")
    processes.append(b)
    headers = {"Authorization": f"Bearer {token}"}
    created = []
    with httpx.Client(headers=headers, timeout=10) as http:
        for n in range(20):
            web = (a, b)[n % 2]
            response = http.post(
                f"{web.url}/v1/customers/",
                json={"email": f"node{n}@example.com", "external_id": f"node_{n}"},
            )
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        # Each process reads what the other wrote (the same token: from the primary).
        for n, customer_id in enumerate(created):
            web = (b, a)[n % 2]
            response = http.get(f"{web.url}/v1/customers/external/node_{n}")
            assert response.status_code == 200 and response.json()["id"] == customer_id
        # The export streams through a server-side cursor on a direct connection and
        # without one through PgBouncer; both processes answer it whole.
        for web in (a, b):
            listed = http.get(f"{web.url}/v1/customers/", params={"limit": 100}).json()
            assert listed["pagination"]["total_count"] == 20


def test_two_workers_deliver_each_webhook_once(organization, token, tmp_path, processes, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    receiver = Receiver()
    try:
        endpoint_create(organization=organization, url=receiver.url, events=["customer.created"])
        web = Web(tmp_path, "web")
        processes.append(web)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=10) as http:
            for n in range(40):
                response = http.post(
                    f"{web.url}/v1/customers/", json={"email": f"hook{n}@example.com"}
                )
                assert response.status_code == 201, response.text
        workers = [Worker(tmp_path, f"worker-{n}", "--only", "webhooks") for n in (1, 2)]
        processes.extend(workers)
        deadline = time.monotonic() + 60
        while len(receiver.requests) < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a duplicate would arrive now
        ids = Counter(r["headers"]["webhook-id"] for r in receiver.requests)
        assert len(ids) == 40, [w.output() for w in workers]
        assert max(ids.values()) == 1
        emails = {json.loads(r["body"])["data"]["email"] for r in receiver.requests}
        assert emails == {f"hook{n}@example.com" for n in range(40)}
        assert not WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.SUCCEEDED)
    finally:
        receiver.close()


def test_two_workers_renew_each_due_subscription_once(organization, tmp_path, processes):
    subscriptions = [due_subscription(organization) for _ in range(30)]
    workers = [Worker(tmp_path, f"worker-{n}", "--only", "renewals") for n in (1, 2)]
    processes.extend(workers)
    renewals = Order.objects.filter(billing_reason=Order.BillingReason.SUBSCRIPTION_CYCLE)
    deadline = time.monotonic() + 60
    while renewals.count() < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    per_subscription = Counter(renewals.values_list("subscription_id", flat=True))
    assert set(per_subscription) == {s.pk for s in subscriptions}, [w.output() for w in workers]
    assert set(per_subscription.values()) == {1}

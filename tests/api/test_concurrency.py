"""Concurrent creates through the live API: exactly one wins, the other gets the 422."""

import threading

import httpx
import pytest

from customers.models import Customer


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "bodies",
    [
        [
            {"email": "a@example.com", "external_id": "usr_1"},
            {"email": "b@example.com", "external_id": "usr_1"},
        ],
        [{"email": "Same@example.com"}, {"email": "same@EXAMPLE.com"}],
    ],
    ids=["external_id", "email"],
)
def test_concurrent_creates_of_one_customer_give_one_201_and_one_422(
    postgres_only, live_server, token, organization, bodies
):
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def create(i):
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            barrier.wait()
            responses[i] = client.post(
                "/v1/customers/", json=bodies[i], headers={"Authorization": f"Bearer {token}"}
            )

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in responses) == [201, 422]
    error = next(r for r in responses if r.status_code == 422).json()
    assert error["error"] == "PolarRequestValidationError"
    assert Customer.objects.for_org(organization).count() == 1

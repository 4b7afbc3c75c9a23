"""Page links ("cursor=") are the client's to edit: a tampered one must be the 400 the
pages give for a malformed one, never a 500.

decode_cursor checked only that the ID was a string and the time parsed: an ID that is no
UUID, or a time that overflows when made UTC, reached the query (a 500)."""

import base64
import json
import warnings

import pytest
from django.urls import reverse

from webhooks.models import EventType, WebhookEndpoint

pytestmark = pytest.mark.django_db

SOME_ID = "01a2325f-b28c-70f9-9776-27fe8f01518d"


def cursor(value, row_id) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode().rstrip("=")


TAMPERED = {
    "id-not-a-uuid": cursor("2026-01-01T00:00:00+00:00", "zzz"),
    "time-past-9999": cursor("9999-12-31T23:59:59-23:59", SOME_ID),
    "time-before-year-1": cursor("0001-01-01T00:00:00+14:00", SOME_ID),
}


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


def get(client, url, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a naive time, as a client may send
        try:
            return client.get(url, params).status_code
        except Exception as error:  # the test client re-raises what a view raised
            return type(error).__name__


@pytest.mark.parametrize("tampered", TAMPERED.values(), ids=TAMPERED.keys())
@pytest.mark.parametrize("status", ["all", "failed", "waiting", "expired"])
def test_a_tampered_cursor_on_the_delivery_log_is_a_400(merchant, organization, status, tampered):
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://example.com/h", events=list(EventType.values)
    )
    url = reverse("webhooks:endpoint", args=[organization.slug, endpoint.pk])
    assert get(merchant, url, {"status": status, "cursor": tampered}) == 400


@pytest.mark.parametrize("tampered", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_cursor_on_the_customer_list_is_a_400(merchant, organization, tampered):
    url = reverse("customers:list", args=[organization.slug])
    assert get(merchant, url, {"cursor": tampered}) == 400

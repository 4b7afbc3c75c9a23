"""The list's "Export CSV" button: the customers the list shows, as a streamed download."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.urls import reverse

from customers import services
from customers.export import CSV_COLUMNS, csv_pieces
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, member):
    client.force_login(member)
    return client


def download(client, organization, **params):
    response = client.get(reverse("customers:export", args=[organization.slug]), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="{organization.slug}-customers-'
    )
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_list_links_to_an_export_of_what_it_shows(merchant, organization):
    CustomerFactory(organization=organization, email="ada@example.com", metadata={"plan": "pro"})
    list_url = reverse("customers:list", args=[organization.slug])
    export_url = reverse("customers:export", args=[organization.slug])
    assert f'href="{export_url}"' in merchant.get(list_url).text
    page = merchant.get(list_url, {"query": "ada", "metadata[plan]": "pro", "sorting": "email"})
    assert f'href="{export_url}?query=ada&amp;metadata%5Bplan%5D=pro"' in page.text
    assert "Export these customers (CSV)" in page.text


def test_export_follows_search_and_filters_and_tenancy(merchant, organization, other_organization):
    CustomerFactory(organization=organization, email="ada@example.com", metadata={"plan": "pro"})
    CustomerFactory(organization=organization, email="bob@example.com", metadata={"plan": "free"})
    gone = CustomerFactory(organization=organization, email="gone@example.com")
    services.customer_delete(customer=gone)
    CustomerFactory(organization=other_organization, email="theirs@example.com")

    everyone = download(merchant, organization)
    assert sorted(r["email"] for r in everyone) == ["ada@example.com", "bob@example.com"]
    assert [r["email"] for r in download(merchant, organization, **{"metadata[plan]": "pro"})] == [
        "ada@example.com"
    ]
    assert [r["email"] for r in download(merchant, organization, query="BOB")] == [
        "bob@example.com"
    ]
    assert download(merchant, organization, query="nobody") == []


def test_bad_filters_get_a_400(merchant, organization):
    url = reverse("customers:export", args=[organization.slug])
    response = merchant.get(url, {"active": "maybe"})
    assert response.status_code == 400


def test_outsiders_cannot_export(client, outsider, organization):
    CustomerFactory(organization=organization)
    client.force_login(outsider)
    assert client.get(reverse("customers:export", args=[organization.slug])).status_code == 404


def test_the_format_is_the_same_on_both_databases(organization):
    """PostgreSQL writes the CSV with COPY, SQLite with Python: one format."""
    ada = CustomerFactory(
        organization=organization,
        email="ada@example.com",
        name='Ada "Countess", of\nLovelace',
        external_id="u_1",
        metadata={"plan": "pro", "seats": 3, "beta": True, "city": "Zürich"},
        billing_address_country="GB",
    )
    CustomerFactory(organization=organization, email="bob@example.com", name="", metadata={})
    text = b"".join(csv_pieces(Customer.objects.for_org(organization))).decode()

    assert text.endswith("\n") and "\r\n" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    second = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert first["id"] == str(ada.id)
    assert first["name"] == 'Ada "Countess", of\nLovelace'
    assert first["created_at"].endswith("Z")
    assert datetime.fromisoformat(first["created_at"]) == ada.created_at
    assert json.loads(first["metadata"]) == {
        "plan": "pro",
        "seats": 3,
        "beta": True,
        "city": "Zürich",
    }
    assert "Zürich" in first["metadata"]  # UTF-8, not \\u escapes
    assert first["billing_address_line1"] == "" and first["billing_address_country"] == "GB"
    assert second["external_id"] == "" and second["name"] == "" and second["metadata"] == "{}"
    # Empty fields are empty, never a quoted "".
    assert ',"",' not in text


def test_pieces_are_bounded_whatever_the_row_count(organization):
    CustomerFactory.create_batch(200, organization=organization, name="N" * 200)
    pieces = list(csv_pieces(Customer.objects.for_org(organization), piece_bytes=4096))
    assert len(pieces) > 10
    assert max(len(p) for p in pieces) < 4096 + 1024  # a piece overshoots by one row at most
    assert sum(p.count(b"\n") for p in pieces) == 201

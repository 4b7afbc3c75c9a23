"""Likely duplicates: each normalisation rule, the incremental scan, dismissal, the
Possible duplicates page and the customer page's notice."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from customers import duplicates
from customers.duplicates import email_key, name_key, scan_organization
from customers.jobs import scan_duplicates
from customers.models import Customer, DuplicatePair, DuplicateScan
from customers.services import customer_create, customer_delete, customer_update
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NOW = timedelta(0)  # the scan's lag, off: these tests' customers are seconds old


def scan(organization) -> int:
    total = 0
    while n := scan_organization(organization.pk, lag=NOW):
        total += n
    return total


def pairs(organization) -> dict:
    return {
        frozenset((p.customer.email, p.other.email)): p
        for p in DuplicatePair.objects.filter(organization=organization).select_related(
            "customer", "other"
        )
    }


def make(organization, email, name="", **fields) -> Customer:
    return customer_create(organization=organization, email=email, name=name, **fields)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ada@Example.com", "ada@example.com"),  # case
        ("ada+shop@example.com", "ada@example.com"),  # +tag
        ("a.d.a@gmail.com", "ada@gmail.com"),  # dots where the provider ignores them
        ("ada.l+x@googlemail.com", "adal@gmail.com"),  # googlemail.com is gmail.com
    ],
)
def test_email_keys_match(a, b):
    assert email_key(a) == email_key(b)


def test_dots_count_where_the_provider_reads_them():
    assert email_key("a.da@example.com") != email_key("ada@example.com")


def test_name_key_ignores_case_and_spacing():
    assert name_key("  Ada   LOVELACE ") == name_key("ada lovelace")


@pytest.mark.usefixtures("postgres_only")
def test_the_sql_normalisations_agree_with_python():
    emails = ["Ada+x@Example.com", "a.d.a@gmail.com", "x.y+z@GoogleMail.com", " b@c.org"]
    names = ["  Ada   LOVELACE ", "Bob\tSmith"]
    with connection.cursor() as cursor:
        for email in emails:
            cursor.execute(
                "SELECT customers_email_key(%s), customers_email_domain(%s)", [email] * 2
            )
            assert cursor.fetchone() == (email_key(email), duplicates.email_domain(email))
        for name in names:
            cursor.execute("SELECT customers_name_key(%s)", [name])
            assert cursor.fetchone()[0] == name_key(name)


def test_the_same_email_once_normalised_is_a_pair(organization):
    make(organization, "ada+shop@example.com")
    make(organization, "ada@example.com")
    make(organization, "a.d.a@gmail.com")
    make(organization, "ada@googlemail.com")
    make(organization, "grace@example.com")
    scan(organization)
    found = pairs(organization)
    assert set(found) == {
        frozenset(("ada+shop@example.com", "ada@example.com")),
        frozenset(("a.d.a@gmail.com", "ada@googlemail.com")),
    }
    assert all(p.reasons == ["email"] for p in found.values())


def test_the_same_name_with_the_same_postal_code_or_tax_id_is_a_pair(organization):
    make(organization, "a1@one.test", "Ada Lovelace", billing_address_postal_code="SW1A 1AA")
    make(organization, "a2@two.test", "ada  lovelace", billing_address_postal_code="sw1a1aa")
    make(organization, "b1@one.test", "Bob Stone", tax_id="DE 123-456")
    make(organization, "b2@two.test", "Bob Stone", tax_id="de123456")
    make(organization, "c1@one.test", "Cy Twombly", billing_address_postal_code="10001")
    make(organization, "c2@two.test", "Cy Twombly", billing_address_postal_code="10002")
    scan(organization)
    found = pairs(organization)
    assert set(found) == {
        frozenset(("a1@one.test", "a2@two.test")),
        frozenset(("b1@one.test", "b2@two.test")),
    }
    assert found[frozenset(("a1@one.test", "a2@two.test"))].reasons == ["name_postal_code"]
    assert found[frozenset(("b1@one.test", "b2@two.test"))].reasons == ["name_tax_id"]


def test_very_similar_names_at_the_same_company_domain_are_a_pair(organization):
    make(organization, "ada@acme.test", "Ada Lovelace")
    make(organization, "a.lovelace@acme.test", "Ada Lovelacee")
    make(organization, "ada@other.test", "Ada Lovelace")  # another domain
    make(organization, "x@gmail.com", "John Smith")  # free mail: no evidence
    make(organization, "y@gmail.com", "John Smith")
    scan(organization)
    found = pairs(organization)
    assert set(found) == {frozenset(("ada@acme.test", "a.lovelace@acme.test"))}
    pair = found[frozenset(("ada@acme.test", "a.lovelace@acme.test"))]
    assert pair.reasons == ["similar_name_domain"]
    assert 0 < pair.score < 0.95


def test_several_reasons_score_higher_than_one(organization):
    make(organization, "ada@acme.test", "Ada Lovelace", tax_id="GB1")
    make(organization, "ada+2@acme.test", "Ada Lovelace", tax_id="GB1")
    scan(organization)
    (pair,) = pairs(organization).values()
    assert set(pair.reasons) == {"email", "name_tax_id", "similar_name_domain"}
    assert pair.score > 0.95


def test_other_organizations_customers_are_never_paired(organization, other_organization):
    make(organization, "ada@example.com")
    make(other_organization, "ada+x@example.com")
    scan(organization)
    scan(other_organization)
    assert not DuplicatePair.objects.exists()


def test_the_scan_looks_only_at_customers_changed_since_its_watermark(organization):
    make(organization, "ada@example.com")
    make(organization, "ada+x@example.com")
    assert scan(organization) == 2
    assert scan(organization) == 0  # nothing changed: nothing looked at
    third = make(organization, "grace@example.com")
    assert scan(organization) == 1
    customer_update(customer=third, email="ada+y@example.com")
    assert scan(organization) == 1
    assert len(pairs(organization)) == 3
    state = DuplicateScan.objects.get(organization=organization)
    assert state.scanned_id == third.pk


def test_the_scan_waits_for_customers_changed_in_the_last_seconds(organization):
    make(organization, "ada@example.com")
    assert scan_organization(organization.pk) == 0  # the default lag
    assert scan_organization(organization.pk, lag=NOW) == 1


def test_a_changed_email_drops_the_pair_and_a_deleted_customer_too(organization):
    ada = make(organization, "ada@example.com")
    other = make(organization, "ada+x@example.com")
    third = make(organization, "ada+y@example.com")
    scan(organization)
    assert len(pairs(organization)) == 3
    customer_update(customer=other, email="someone@else.test")
    customer_delete(customer=third)
    scan(organization)
    assert pairs(organization) == {}
    assert ada.pk  # the survivor of both changes is left alone


def test_a_dismissed_pair_stays_dismissed(organization, owner):
    ada = make(organization, "ada@example.com")
    make(organization, "ada+x@example.com")
    scan(organization)
    (pair,) = pairs(organization).values()
    duplicates.pair_dismiss(organization=organization, pair_id=pair.pk, user=owner)
    customer_update(customer=ada, name="Ada L.")  # looked at again
    scan(organization)
    pair.refresh_from_db()
    assert pair.dismissed_at is not None and pair.dismissed_by == owner
    assert list(duplicates.open_pairs(organization)) == []


def test_the_job_scans_every_organization(organization, other_organization):
    make(organization, "ada@example.com")
    make(other_organization, "bob@example.com")
    Customer.objects.update(modified_at=timezone.now() - timedelta(minutes=5))
    assert scan_duplicates() == 2
    assert scan_duplicates() == 0


# --- The pages ----------------------------------------------------------------------------


@pytest.fixture
def pair(organization):
    make(organization, "ada@example.com", "Ada")
    make(organization, "ada+x@example.com", "Ada L")
    scan(organization)
    return DuplicatePair.objects.get()


def test_the_duplicates_page_lists_pairs_with_reasons_and_score(client, owner, pair):
    client.force_login(owner)
    page = client.get(reverse("customers:duplicates", args=["acme"])).text
    assert "ada+x@example.com" in page and "Same email (normalised)" in page
    assert f"Score {pair.score:.2f}" in page
    assert "Not the same person" in page


def test_members_see_the_pairs_but_cannot_dismiss(client, member, pair):
    client.force_login(member)
    page = client.get(reverse("customers:duplicates", args=["acme"])).text
    assert "ada+x@example.com" in page and "Not the same person" not in page
    response = client.post(reverse("customers:duplicate_dismiss", args=["acme"]), {"pair": pair.pk})
    assert response.status_code == 403
    pair.refresh_from_db()
    assert pair.dismissed_at is None


def test_an_owner_dismisses_a_pair_and_it_is_gone_from_the_page(client, owner, pair):
    client.force_login(owner)
    response = client.post(reverse("customers:duplicate_dismiss", args=["acme"]), {"pair": pair.pk})
    assert response.status_code == 302
    page = client.get(reverse("customers:duplicates", args=["acme"])).text
    assert "No possible duplicates right now." in page


def test_another_organizations_pair_cannot_be_dismissed(client, outsider, pair, other_organization):
    client.force_login(outsider)
    response = client.post(
        reverse("customers:duplicate_dismiss", args=[other_organization.slug]), {"pair": pair.pk}
    )
    assert response.status_code == 404
    pair.refresh_from_db()
    assert pair.dismissed_at is None


def test_the_customer_page_shows_a_notice_while_a_pair_is_open(client, owner, pair):
    client.force_login(owner)
    url = reverse("customers:detail", args=["acme", pair.customer_id])
    assert "may have a duplicate" in client.get(url).text
    duplicates.pair_dismiss(organization=pair.organization, pair_id=pair.pk, user=owner)
    assert "may have a duplicate" not in client.get(url).text


def test_the_duplicates_page_costs_four_queries(client, owner, pair, django_assert_num_queries):
    client.force_login(owner)
    url = reverse("customers:duplicates", args=["acme"])
    # 1 session, 2 user, 3 memberships, 4 the page of pairs with both customers
    with django_assert_num_queries(4):
        client.get(url)


def test_a_customer_with_no_pair_shows_no_notice(client, owner, organization):
    client.force_login(owner)
    customer = CustomerFactory(organization=organization)
    page = client.get(reverse("customers:detail", args=["acme", customer.pk])).text
    assert "may have a duplicate" not in page


def test_the_customer_list_links_the_possible_duplicates(client, owner, organization):
    CustomerFactory(organization=organization)
    client.force_login(owner)
    html = client.get(reverse("customers:list", args=[organization.slug])).text
    assert f'href="{reverse("customers:duplicates", args=[organization.slug])}"' in html

import pytest
from django.urls import reverse

from customers import services
from tests.factories import CustomerFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def sign_in(client, password="correct-horse-battery"):
    return client.post(reverse("login"), {"username": "owner", "password": password}, follow=True)


def test_signing_in_with_one_organization_lands_on_its_overview(client, owner, organization):
    response = sign_in(client)
    assert response.redirect_chain[-1][0] == reverse("analytics:overview", args=[organization.slug])


def test_signing_in_with_several_organizations_shows_each_with_its_customer_count(
    client, owner, organization, other_organization, django_assert_num_queries
):
    MembershipFactory(user=owner, organization=other_organization)
    CustomerFactory.create_batch(2, organization=organization)
    services.customer_delete(customer=CustomerFactory(organization=organization))
    CustomerFactory(organization=other_organization)
    third = OrganizationFactory(name="Zeta Labs", slug="zeta")
    MembershipFactory(user=owner, organization=third)

    response = sign_in(client)
    assert response.redirect_chain[-1][0] == reverse("home")
    choices = response.context["choices"]
    assert [(c["organization"].slug, c["customers"].text) for c in choices] == [
        (organization.slug, "2 customers"),
        (other_organization.slug, "1 customer"),
        ("zeta", "0 customers"),
    ]
    page = response.text
    assert "Choose an organization" in page
    assert reverse("customers:list", args=["zeta"]) in page
    assert "2 customers" in page

    # session, user, the memberships with their organizations and customer counts
    with django_assert_num_queries(3):
        client.get(reverse("home"))


def test_the_chooser_counts_a_large_organization_only_up_to_a_bound(
    client, owner, organization, other_organization, monkeypatch
):
    from customers import views

    monkeypatch.setattr(views, "CHOOSER_COUNT_UP_TO", 2)
    MembershipFactory(user=owner, organization=other_organization)
    CustomerFactory.create_batch(3, organization=organization)
    client.force_login(owner)
    choices = client.get(reverse("home")).context["choices"]
    assert choices[0]["customers"].text == "more than 2 customers"

"""An email has at most 254 characters (RFC 5321), on every way in."""

import pytest
from django.core.exceptions import ValidationError

from checkouts import services as checkout_services
from customers import services
from customers.forms import CustomerProfileForm
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

# 64 + 1 + 189 = 254: the longest address RFC 5321 allows (labels of at most 63).
LONGEST = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
TOO_LONG = "a" + LONGEST  # 255
MUCH_TOO_LONG = "a" * 64 + "@" + ".".join(["e" * 60] * 4) + ".com"  # 313


def test_the_limits_are_what_they_say():
    assert (len(LONGEST), len(TOO_LONG)) == (254, 255)
    assert len(MUCH_TOO_LONG) > 300


def test_the_longest_email_is_taken(api):
    response = api.post("/v1/customers/", data={"email": LONGEST}, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("email", [TOO_LONG, MUCH_TOO_LONG])
def test_the_api_refuses_a_longer_email_on_create(api, email):
    response = api.post("/v1/customers/", data={"email": email}, content_type="application/json")
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "email"]
    assert "254" in detail["msg"]


@pytest.mark.parametrize("path", ["/v1/customers/{id}", "/v1/customers/external/usr_1"])
def test_the_api_refuses_a_longer_email_on_update(api, organization, path):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    response = api.patch(
        path.format(id=customer.pk), data={"email": TOO_LONG}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


def test_a_checkout_refuses_a_longer_buyer_email(api, organization):
    product = ProductFactory(organization=organization)
    body = {"products": [str(product.pk)], "customer_email": TOO_LONG}
    response = api.post("/v1/checkouts/", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customer_email"]

    checkout = checkout_services.checkout_create(organization=organization, product=product)
    for path in (
        f"/v1/checkouts/client/{checkout.client_secret}",
        f"/v1/checkouts/{checkout.pk}",
    ):
        response = api.patch(
            path, data={"customer_email": TOO_LONG}, content_type="application/json"
        )
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["loc"] == ["body", "customer_email"]


def test_the_model_refuses_a_longer_email_for_every_other_path(organization):
    with pytest.raises(ValidationError) as error:
        services.customer_create(organization=organization, email=TOO_LONG)
    assert list(error.value.message_dict) == ["email"]
    assert "254" in error.value.message_dict["email"][0]


def test_the_dashboard_form_refuses_a_longer_email(organization):
    form = CustomerProfileForm(
        data={"email": TOO_LONG}, instance=CustomerFactory.build(organization=organization)
    )
    assert not form.is_valid()
    assert "email" in form.errors
    assert form.fields["email"].max_length == 254


def test_the_hosted_checkout_page_refuses_a_longer_email_beside_the_field(client, organization):
    from django.urls import reverse

    product = ProductFactory(organization=organization)
    checkout = checkout_services.checkout_create(organization=organization, product=product)
    page = reverse("checkouts:page", args=[checkout.client_secret])
    response = client.post(
        page, {"customer_email": TOO_LONG, "customer_name": "Ada", "card_number": "4242"}
    )
    assert response.status_code in (200, 422)
    assert "at most 254 characters" in response.context["form"].errors["customer_email"][0]
    checkout.refresh_from_db()
    assert checkout.status == "open"


def test_a_checkout_stores_at_most_254_characters():
    from checkouts.models import Checkout

    assert Checkout._meta.get_field("customer_email").max_length == 254

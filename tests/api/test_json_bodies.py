"""Request bodies the JSON parser must refuse with Polar's 422 before any operation runs:
text that is valid JSON but not valid Unicode (a lone UTF-16 surrogate, which PostgreSQL
cannot store), and a body that is not an object."""

import json

import pytest

from checkouts import services as checkout_services
from config.api import api
from tests.factories import CustomerFactory, ProductFactory
from tests.portal.helpers import portal_client

pytestmark = pytest.mark.django_db

LONE = "\ud800"  # json.dumps writes it as the escape \ud800: valid JSON, invalid Unicode


def send(client, method, path, body):
    # json.dumps escapes the surrogate, exactly as a hostile client would send it.
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def rows(organization):
    customer = CustomerFactory(organization=organization, external_id="usr_1")
    product = ProductFactory(organization=organization)
    checkout = checkout_services.checkout_create(organization=organization, product=product)
    return {"customer": customer, "product": product, "checkout": checkout}


PRICE = {"amount_type": "fixed", "price_amount": 100, "price_currency": "usd"}
CUSTOMER = {"email": "a@example.com"}
PRODUCT = {"name": "P", "prices": [PRICE]}
CHECKOUT = {"products": ["{product}"]}

# (method, path, body, location of the bad text); paths and a checkout's product are
# filled in from `rows`.
CASES = [
    ("post", "/v1/customers/", {**CUSTOMER, "metadata": {"plan": LONE}}, ["metadata", "plan"]),
    ("post", "/v1/customers/", {**CUSTOMER, "metadata": {LONE: "x"}}, ["metadata", "\\ud800"]),
    ("post", "/v1/customers/", {**CUSTOMER, "name": "Ada" + LONE}, ["name"]),
    ("post", "/v1/customers/", {"email": LONE + "@example.com"}, ["email"]),
    (
        "post",
        "/v1/customers/",
        {**CUSTOMER, "billing_address": {"country": "US", "city": LONE}},
        ["billing_address", "city"],
    ),
    ("patch", "/v1/customers/{customer}", {"metadata": {"plan": LONE}}, ["metadata", "plan"]),
    ("patch", "/v1/customers/{customer}", {"name": LONE}, ["name"]),
    ("patch", "/v1/customers/external/usr_1", {"metadata": {"p": LONE}}, ["metadata", "p"]),
    ("patch", "/v1/customers/external/usr_1", {"tax_id": LONE}, ["tax_id"]),
    ("post", "/v1/products/", {**PRODUCT, "metadata": {"k": LONE}}, ["metadata", "k"]),
    ("post", "/v1/products/", {**PRODUCT, "name": LONE}, ["name"]),
    (
        "post",
        "/v1/products/",
        {**PRODUCT, "prices": [{**PRICE, "price_currency": "us" + LONE}]},
        ["prices", 0, "price_currency"],
    ),
    ("patch", "/v1/products/{product}", {"metadata": {LONE: 1}}, ["metadata", "\\ud800"]),
    ("patch", "/v1/products/{product}", {"description": LONE}, ["description"]),
    ("post", "/v1/checkouts/", {**CHECKOUT, "metadata": {"k": LONE}}, ["metadata", "k"]),
    (
        "post",
        "/v1/checkouts/",
        {**CHECKOUT, "customer_metadata": {"k": LONE}},
        ["customer_metadata", "k"],
    ),
    ("post", "/v1/checkouts/", {**CHECKOUT, "customer_name": LONE}, ["customer_name"]),
    ("patch", "/v1/checkouts/{checkout}", {"customer_name": LONE}, ["customer_name"]),
    ("patch", "/v1/checkouts/client/{secret}", {"customer_email": LONE}, ["customer_email"]),
    (
        "post",
        "/v1/webhooks/endpoints",
        {"url": "https://example.com/" + LONE, "format": "raw", "events": []},
        ["url"],
    ),
]


def _fill(path: str, rows) -> str:
    return path.format(
        customer=rows["customer"].pk,
        product=rows["product"].pk,
        checkout=rows["checkout"].pk,
        secret=rows["checkout"].client_secret,
        id=rows["customer"].pk,
        external_id="usr_1",
        client_secret=rows["checkout"].client_secret,
        # The body is refused before any note is looked up.
        note_id="01a2331c-0000-7000-8000-000000000000",
    )


@pytest.mark.parametrize(("method", "path", "body", "loc"), CASES)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_422_naming_the_field(
    api, rows, method, path, body, loc
):
    if "products" in body:
        body = {**body, "products": [str(rows["product"].pk)]}
    response = send(api, method, _fill(path, rows), body)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "PolarRequestValidationError"
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", *loc]]
    assert detail[0]["type"] == "string_unicode"
    # The answer itself holds no lone surrogate, so every client can decode it.
    response.content.decode("utf-8")
    assert "\\ud800" in detail[0]["input"]


def test_every_problem_is_listed_at_once(api):
    body = {"email": "a@example.com", "name": LONE, "metadata": {"a": LONE, "b": [LONE]}}
    response = send(api, "post", "/v1/customers/", body)
    assert response.status_code == 422
    locs = [d["loc"] for d in response.json()["detail"]]
    assert locs == [["body", "name"], ["body", "metadata", "a"], ["body", "metadata", "b", 0]]


def test_a_proper_surrogate_pair_is_just_an_emoji(api):
    # "\ud83d\ude00" in JSON is one valid character, U+1F600.
    response = send(api, "post", "/v1/customers/", {"email": "a@example.com", "name": "😀"})
    assert response.status_code == 201
    raw = b'{"email": "b@example.com", "name": "\\ud83d\\ude00"}'
    response = api.post("/v1/customers/", data=raw, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["name"] == "😀"


NOT_OBJECTS = [[None, None], "hello", 42, 4.2, True, None, []]


@pytest.mark.parametrize("body", NOT_OBJECTS, ids=repr)
@pytest.mark.parametrize("path", ["/v1/customers/{customer}", "/v1/products/{product}"])
def test_a_patch_body_that_is_not_an_object_is_a_422(api, rows, path, body):
    response = send(api, "patch", _fill(path, rows), body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"] == [
        {
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": body,
        }
    ]


def _body_operations():
    """(method, path) of every operation of the API that reads a JSON body."""
    document = api.get_openapi_schema()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:  # not the import's multipart upload
                yield method, path


BODY_OPERATIONS = sorted(_body_operations())


def _client_for(path, api, rows):
    """The customer portal's operations take a customer session token."""
    return portal_client(rows["customer"]) if path.startswith("/v1/customer-portal/") else api


def test_the_walk_finds_every_body_taking_operation():
    assert len(BODY_OPERATIONS) >= 12
    assert ("patch", "/v1/customers/{id}") in BODY_OPERATIONS


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize("body", [[None, None], "hello", 42], ids=repr)
def test_every_body_taking_operation_refuses_a_body_that_is_not_an_object(
    api, rows, method, path, body
):
    response = send(_client_for(path, api, rows), method, _fill(path, rows), body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_every_body_taking_operation_refuses_a_lone_surrogate(api, rows, method, path):
    response = send(_client_for(path, api, rows), method, _fill(path, rows), {"name": LONE})
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", "name"]

"""The OpenAPI document says what the server does: one meaning per component name, and
constraints the server enforces (enums, lengths, formats) written down."""

import pytest
from ninja.openapi.schema import OpenAPISchema

from checkouts.models import Checkout
from config.api import api
from orders.models import Order, Subscription
from tests.factories import CustomerFactory
from tests.portal.helpers import portal_client

pytestmark = pytest.mark.django_db


def _document():
    return api.get_openapi_schema()


def _resolve(document, schema):
    """The schema itself, following a `$ref` and the `anyOf [..., null]` of optionals."""
    if "anyOf" in schema:
        (schema,) = [s for s in schema["anyOf"] if s.get("type") != "null"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _parameter(document, path, name, method="get"):
    (parameter,) = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
    return _resolve(document, parameter["schema"])


def test_no_two_components_share_a_name(monkeypatch):
    # ninja builds the document one model at a time and merges each model's definitions
    # into one `components` map: a second type with the same name silently replaces the
    # first (three Django `Status` enums once became one). Record every definition.
    seen: dict[str, list[dict]] = {}
    original = OpenAPISchema.add_schema_definitions

    def record(self, definitions):
        for name, schema in definitions.items():
            seen.setdefault(name, [])
            if schema not in seen[name]:
                seen[name].append(schema)
        original(self, definitions)

    monkeypatch.setattr(OpenAPISchema, "add_schema_definitions", record)
    _document()
    assert seen, "the recorder saw no definitions"
    clashes = {name: schemas for name, schemas in seen.items() if len(schemas) > 1}
    assert clashes == {}


@pytest.mark.parametrize(
    ("path", "choices"),
    [
        ("/v1/subscriptions/", Subscription.Status),
        ("/v1/orders/", Order.Status),
        ("/v1/checkouts/", Checkout.Status),
    ],
)
def test_each_status_filter_lists_its_own_statuses(path, choices):
    document = _document()
    parameter = _parameter(document, path, "status")
    items = _resolve(document, parameter["items"])
    assert items["enum"] == list(choices.values)


@pytest.mark.parametrize(
    "value",
    ["0.5", "1700000000", "-1", "2026-10-01", "yesterday", "2026-10-01T12", "1e10"],
)
def test_a_query_date_time_must_be_an_iso_8601_date_time(api, value):
    response = api.get("/v1/webhooks/deliveries", {"start_timestamp": value})
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["query", "start_timestamp"]
    response = api.get("/v1/webhooks/deliveries", {"end_timestamp": value})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "value",
    [
        "2026-10-01T12:00:00Z",
        "2026-10-01T12:00:00.123+02:00",
        "2026-10-01T12:00:00",
        "2026-10-01 12:00Z",
    ],
)
def test_a_query_date_time_in_iso_8601_is_taken(api, value):
    response = api.get("/v1/webhooks/deliveries", {"start_timestamp": value})
    assert response.status_code == 200, response.content


def _sorting_operations():
    document = _document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "sorting":
                    yield path, method


SORTING_OPERATIONS = sorted(_sorting_operations())


def test_every_list_with_sorting_is_found():
    assert {path for path, _ in SORTING_OPERATIONS} >= {
        "/v1/customers/",
        "/v1/orders/",
        "/v1/subscriptions/",
        "/v1/products/",
    }


@pytest.mark.parametrize(("path", "method"), SORTING_OPERATIONS)
def test_the_document_lists_exactly_the_sortings_the_server_takes(api, organization, path, method):
    if path.startswith("/v1/customer-portal/"):  # a customer session's token, not ours
        api = portal_client(CustomerFactory(organization=organization))
    document = _document()
    parameter = _parameter(document, path, "sorting", method)
    values = _resolve(document, parameter["items"])["enum"]
    assert values, "the document must list the sort keys"
    for value in values:
        assert api.get(path, {"sorting": value}).status_code == 200, value
    # Anything else (an empty value included) is refused, as the enum says.
    for value in ["", "password", "-", "--created_at"]:
        response = api.get(path, {"sorting": value})
        assert response.status_code == 422, value
        assert response.json()["detail"][0]["loc"][:2] == ["query", "sorting"]


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("CustomerCreateIn", "email"),
        ("CustomerUpdateIn", "email"),
        ("CustomerUpdateExternalIn", "email"),
    ],
)
def test_the_document_states_the_email_rules(schema, field):
    document = _document()
    prop = _resolve(document, document["components"]["schemas"][schema]["properties"][field])
    assert prop["minLength"] == 1
    assert prop["maxLength"] == 254
    assert prop["format"] == "email"


def test_an_empty_email_is_refused_as_the_document_says(api):
    response = api.post("/v1/customers/", data={"email": ""}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


METADATA_FIELDS = [
    ("CustomerCreateIn", "metadata"),
    ("CustomerUpdateIn", "metadata"),
    ("CustomerUpdateExternalIn", "metadata"),
    ("ProductCreateIn", "metadata"),
    ("ProductUpdateIn", "metadata"),
    ("CheckoutCreateIn", "metadata"),
    ("CheckoutCreateIn", "customer_metadata"),
]


@pytest.mark.parametrize(("schema", "field"), METADATA_FIELDS)
def test_the_document_states_the_metadata_rules(schema, field):
    document = _document()
    prop = _resolve(document, document["components"]["schemas"][schema]["properties"][field])
    assert prop["type"] == "object"
    assert prop["maxProperties"] == 50
    assert prop["propertyNames"] == {"minLength": 1, "maxLength": 40}
    values = prop["additionalProperties"]["anyOf"]
    assert {"type": "string", "minLength": 1, "maxLength": 500} in values
    assert {v["type"] for v in values} == {"string", "integer", "number", "boolean"}


def test_the_document_lists_the_billing_types_the_orders_filter_takes(api):
    document = _document()
    parameter = _parameter(document, "/v1/orders/", "product_billing_type")
    assert _resolve(document, parameter["items"])["enum"] == ["one_time", "recurring"]
    assert api.get("/v1/orders/", {"product_billing_type": "recurring"}).status_code == 200
    response = api.get("/v1/orders/", {"product_billing_type": "lifetime"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["query", "product_billing_type"]

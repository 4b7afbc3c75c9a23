"""The portal's operations send their `*_out` dicts as they are (core.api.json_response):
the bytes must parse to exactly what ninja's path through the response schema gives, key
order included, and what polar-sdk's types require."""

import json

import pytest
from ninja.responses import NinjaJSONEncoder
from polar.base import deserialize
from polar.v2026_10.outputs import (
    CustomerOrder,
    CustomerPortalCustomer,
    CustomerSubscription,
)

from core.api import json_response
from portal.schemas import (
    CustomerOrderOut,
    CustomerPortalCustomerOut,
    CustomerSubscriptionOut,
    organization_out,
    portal_customer_out,
    portal_order_out,
    portal_subscription_out,
)

pytestmark = pytest.mark.django_db


def _cases(shop):
    ada = shop["ada"]
    ada.billing_address_city, ada.billing_address_country, ada.tax_id = "London", "GB", "GB1"
    organization = organization_out(ada.organization)
    return [
        (CustomerPortalCustomerOut, CustomerPortalCustomer, portal_customer_out(ada)),
        (CustomerOrderOut, CustomerOrder, portal_order_out(shop["renewal"], organization)),
        (CustomerOrderOut, CustomerOrder, portal_order_out(shop["purchase"], organization)),
        (
            CustomerSubscriptionOut,
            CustomerSubscription,
            portal_subscription_out(shop["subscription"], organization),
        ),
    ]


def test_the_dicts_are_what_the_schemas_give(shop):
    for schema, _, data in _cases(shop):
        expected = json.loads(
            json.dumps(schema.model_validate(data).model_dump(), cls=NinjaJSONEncoder)
        )
        assert json.dumps(json.loads(json_response(data).content)) == json.dumps(expected)


def test_polar_sdk_reads_every_shape(shop):
    for _, sdk_type, data in _cases(shop):
        deserialize(json.loads(json_response(data).content), sdk_type)


def test_nothing_of_the_merchants_side_reaches_the_customer(shop):
    shop["ada"].metadata = {"risk": "high"}
    for _, _, data in _cases(shop):
        text = json_response(data).content.decode()
        assert "metadata" not in text
        assert "platform_fee" not in text
        assert "high" not in text

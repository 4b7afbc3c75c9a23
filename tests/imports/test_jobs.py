"""The import job: dry run, apply, resume after a kill, cancel, concurrent edits."""

import pytest

from activity.models import Entry
from customers import services as customer_services
from customers.models import Customer
from imports import services
from imports.models import CustomerImport
from tests.imports.conftest import refreshed, run_all

pytestmark = pytest.mark.django_db(transaction=False)

FILE = (
    "email,external_id,name,metadata.plan\n"
    "ada@example.com,u1,Ada Lovelace,pro\n"
    "bo@example.com,,Bo,\n"
    "cy@example.com,u3,Cy,team\n"
)


def test_a_file_is_checked_then_applied(organization, start_import):
    customer_services.customer_create(
        organization=organization, email="ada@example.com", external_id="u1", name="Ada"
    )
    customer_import = start_import(FILE)
    assert customer_import.status == CustomerImport.Status.VALIDATING
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.READY
    assert customer_import.counts == {"create": 2, "update": 1, "unchanged": 0, "error": 0}
    assert Customer.objects.count() == 1
    services.import_apply(customer_import=customer_import)
    run_all()
    customer_import = refreshed(customer_import)
    assert customer_import.status == CustomerImport.Status.DONE
    assert customer_import.counts["created"] == 2
    assert customer_import.counts["updated"] == 1
    ada = Customer.objects.get(external_id="u1")
    assert ada.name == "Ada Lovelace" and ada.metadata == {"plan": "pro"} and ada.version == 2
    entries = Entry.objects.filter(source="import", request_id=str(customer_import.pk))
    assert sorted(entries.values_list("type", flat=True)) == [
        "customer.created",
        "customer.created",
        "customer.updated",
    ]

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.changes import Actor, acting
from imports import services
from imports.jobs import run_imports
from imports.models import CustomerImport


@pytest.fixture
def start_import(organization, owner):
    """Upload `text` as a CSV import of the organization, started by the owner."""

    def start(text: str | bytes, *, org=None, **options) -> CustomerImport:
        data = text.encode() if isinstance(text, str) else text
        with acting(actor=Actor("user", str(owner.pk), "Owner"), source="dashboard"):
            return services.import_create(
                organization=org or organization,
                file=SimpleUploadedFile("customers.csv", data, content_type="text/csv"),
                **options,
            )

    return start


def run_all() -> None:
    """Run the import job until nothing is due."""
    while run_imports():
        pass


def refreshed(customer_import: CustomerImport) -> CustomerImport:
    customer_import.refresh_from_db()
    return customer_import

"""manage.py create_access_token: a token for scripts, printed alone on stdout."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from organizations.models import OrganizationAccessToken
from organizations.services import access_token_authenticate

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_access_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_only_a_working_token(organization):
    output = create("--organization", "acme", "--scopes", "customers:read", "customers:write")
    secret = output.strip()
    assert output == secret + "\n"
    token = access_token_authenticate(secret)
    assert token is not None
    assert token.organization == organization
    assert token.scopes == ["customers:read", "customers:write"]
    assert token.expires_at is None
    assert token.created_by is None


def test_it_takes_a_name_and_an_expiry(organization):
    before = timezone.now()
    create(
        "--organization",
        "acme",
        "--scopes",
        "orders:read",
        "--name",
        "Deploy script",
        "--expires-in-days",
        "30",
    )
    token = OrganizationAccessToken.objects.get()
    assert token.name == "Deploy script"
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)


def test_an_unknown_organization_fails_clearly(organization):
    with pytest.raises(CommandError, match="No organization with the slug 'nope'"):
        create("--organization", "nope", "--scopes", "customers:read")
    assert not OrganizationAccessToken.objects.exists()


def test_an_unknown_scope_fails_clearly_and_lists_the_valid_ones(organization):
    with pytest.raises(CommandError, match="Unknown scopes: customers:admin") as error:
        create("--organization", "acme", "--scopes", "customers:read", "customers:admin")
    assert "Valid scopes: customers:read, customers:write" in str(error.value)
    assert not OrganizationAccessToken.objects.exists()


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("0", "--expires-in-days: A token must live at least one day."),
        ("-5", "--expires-in-days: A token must live at least one day."),
        ("soon", "--expires-in-days must be a whole number of days, got 'soon'."),
    ],
)
def test_a_bad_expiry_fails_clearly(days, message, organization):
    with pytest.raises(CommandError) as error:
        create("--organization", "acme", "--scopes", "customers:read", "--expires-in-days", days)
    assert str(error.value) == message
    assert not OrganizationAccessToken.objects.exists()


def test_organization_and_scopes_are_required(organization):
    with pytest.raises(CommandError, match="--scopes"):
        create("--organization", "acme")
    with pytest.raises(CommandError, match="--organization"):
        create("--scopes", "customers:read")

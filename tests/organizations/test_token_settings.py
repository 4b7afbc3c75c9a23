"""Settings → API tokens: owners create, list and revoke their organization's tokens."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from organizations.models import OrganizationAccessToken
from organizations.services import access_token_authenticate, access_token_create, hash_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def tokens_url(organization):
    return reverse("organizations:tokens", args=[organization.slug])


def revoke_url(token) -> str:
    return reverse("organizations:token_revoke", args=[token.organization.slug, token.pk])


def make_token(organization, **kwargs):
    kwargs = {"name": "CI", "scopes": ["customers:read"], **kwargs}
    return access_token_create(organization=organization, **kwargs)


def test_an_owner_creates_a_token_and_sees_its_secret_once(merchant, tokens_url, owner):
    response = merchant.post(
        tokens_url, {"name": "Billing sync", "scopes": ["customers:read"], "expires_in_days": "30"}
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("polar_oat_")
    assert secret in response.text
    assert "see it again" in response.text
    assert f'data-copy="{secret}"' in response.text
    assert "no-store" in response["Cache-Control"]
    token = OrganizationAccessToken.objects.get()
    assert token.created_by == owner
    assert token.name == "Billing sync"

    # The database keeps only the hash: the secret is in no column, nor in the session.
    assert token.token_hash == hash_token(secret)
    row = OrganizationAccessToken.objects.filter(pk=token.pk).values().get()
    assert not [column for column, value in row.items() if secret in str(value)]
    assert not [s for s in Session.objects.all() if secret in str(s.get_decoded())]
    assert not [c for c in response.cookies.values() if secret in c.value]

    # It works, and the page never shows it again.
    assert access_token_authenticate(secret) == token
    page = merchant.get(tokens_url)
    assert secret not in page.text
    assert token.token_prefix + "…" in page.text
    assert page.context["secret"] is None


def test_a_created_token_has_the_chosen_scopes_and_expiry(merchant, tokens_url, organization):
    before = timezone.now()
    merchant.post(
        tokens_url,
        {"name": "Sync", "scopes": ["orders:read", "customers:write"], "expires_in_days": "7"},
    )
    token = OrganizationAccessToken.objects.get()
    assert token.organization == organization
    assert token.scopes == ["customers:write", "orders:read"]
    assert before + timedelta(days=7) <= token.expires_at <= timezone.now() + timedelta(days=7)


def test_a_token_can_be_created_that_never_expires(merchant, tokens_url):
    merchant.post(tokens_url, {"name": "Forever", "scopes": ["customers:read"]})
    assert OrganizationAccessToken.objects.get().expires_at is None


def test_missing_name_and_scopes_show_errors_beside_the_fields(merchant, tokens_url):
    response = merchant.post(tokens_url, {"name": "  ", "expires_in_days": "30"})
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "name": ["Give the token a name."],
        "scopes": ["Choose at least one scope."],
    }
    assert response.context["secret"] is None
    page = response.text
    # Each error sits in its field's group and is linked to the input for screen readers.
    assert 'id="id_name_error"' in page
    assert 'aria-describedby="id_name_helptext id_name_error"' in page
    assert page.index("Give the token a name.") < page.index('name="name"')
    assert page.index('name="name"') < page.index("Choose at least one scope.")
    assert page.index("Choose at least one scope.") < page.index('name="scopes"')
    assert not OrganizationAccessToken.objects.exists()


def test_an_unknown_scope_or_expiry_is_refused_beside_its_field(merchant, tokens_url):
    response = merchant.post(
        tokens_url, {"name": "Sync", "scopes": ["customers:admin"], "expires_in_days": "0"}
    )
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"scopes", "expires_in_days"}
    assert not OrganizationAccessToken.objects.exists()


def test_the_list_shows_tokens_newest_first_with_their_status(merchant, tokens_url, organization):
    now = timezone.now()
    make_token(organization, name="Oldest")
    expired, _ = make_token(organization, name="Expired", expires_in_days=1)
    OrganizationAccessToken.objects.filter(pk=expired.pk).update(
        expires_at=now - timedelta(hours=1)
    )
    revoked, _ = make_token(organization, name="Revoked")
    merchant.post(revoke_url(revoked))
    make_token(organization, name="Newest", scopes=["customers:read", "customers:write"])

    response = merchant.get(tokens_url)
    rows = [(row["token"].name, row["status"]) for row in response.context["rows"]]
    assert rows == [
        ("Newest", "active"),
        ("Revoked", "revoked"),
        ("Expired", "expired"),
        ("Oldest", "active"),
    ]
    page = response.text
    assert "customers:write" in page
    # Only active tokens can be revoked.
    assert page.count('aria-label="Revoke the token') == 2


def test_the_list_shows_only_my_organizations_tokens(merchant, tokens_url, other_organization):
    make_token(other_organization, name="Their secret integration")
    assert "Their secret integration" not in merchant.get(tokens_url).text


def test_an_owner_revokes_a_token_and_it_stops_working(merchant, organization):
    token, secret = make_token(organization, name="Old sync")
    assert access_token_authenticate(secret) is not None
    response = merchant.post(revoke_url(token), follow=True)
    assert response.redirect_chain == [
        (reverse("organizations:tokens", args=[organization.slug]), 302)
    ]
    assert "Token “Old sync” revoked" in response.text
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert access_token_authenticate(secret) is None


def test_revoking_twice_keeps_the_first_revocation_time(merchant, organization):
    token, _ = make_token(organization)
    merchant.post(revoke_url(token))
    token.refresh_from_db()
    first = token.revoked_at
    response = merchant.post(revoke_url(token), follow=True)
    assert "was already revoked" in response.text
    token.refresh_from_db()
    assert token.revoked_at == first


def test_revoke_only_accepts_post(merchant, organization):
    token, _ = make_token(organization)
    assert merchant.get(revoke_url(token)).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_another_organizations_token_is_404(merchant, organization, other_organization):
    theirs, secret = make_token(other_organization)
    url = reverse("organizations:token_revoke", args=[organization.slug, theirs.pk])
    assert merchant.post(url).status_code == 404
    assert access_token_authenticate(secret) == theirs


def test_an_unknown_token_is_404(merchant, organization):
    url = reverse(
        "organizations:token_revoke",
        args=[organization.slug, "01900000-0000-7000-8000-000000000000"],
    )
    assert merchant.post(url).status_code == 404


@pytest.mark.parametrize("route", ["tokens", "token_revoke"])
def test_a_member_gets_403_on_both_routes(route, client, member, organization):
    token, secret = make_token(organization)
    client.force_login(member)
    if route == "tokens":
        responses = [
            client.get(reverse("organizations:tokens", args=[organization.slug])),
            client.post(
                reverse("organizations:tokens", args=[organization.slug]),
                {"name": "Sneaky", "scopes": ["customers:write"]},
            ),
        ]
    else:
        responses = [client.post(revoke_url(token))]
    for response in responses:
        assert response.status_code == 403
        assert "Only owners can open this page" in response.text
        # The page keeps the layout and the organization switcher.
        assert response.context["organization"] == organization
    assert OrganizationAccessToken.objects.get() == token
    assert access_token_authenticate(secret) == token


@pytest.mark.parametrize("route", ["tokens", "token_revoke"])
def test_an_outsider_gets_404(route, client, outsider, organization):
    token, secret = make_token(organization)
    client.force_login(outsider)
    if route == "tokens":
        response = client.get(reverse("organizations:tokens", args=[organization.slug]))
    else:
        response = client.post(revoke_url(token))
    assert response.status_code == 404
    assert access_token_authenticate(secret) == token


@pytest.mark.parametrize("route", ["tokens", "token_revoke"])
def test_anonymous_visitors_are_sent_to_sign_in(route, client, organization):
    token, secret = make_token(organization)
    url = (
        reverse("organizations:tokens", args=[organization.slug])
        if route == "tokens"
        else revoke_url(token)
    )
    response = client.post(url) if route == "token_revoke" else client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    assert access_token_authenticate(secret) == token


def test_only_owners_see_the_settings_link(client, owner, member, organization):
    # The top bar's Settings opens the organization's settings, whose menu leads here.
    customers_url = reverse("customers:list", args=[organization.slug])
    settings_url = reverse("organizations:settings", args=[organization.slug])
    client.force_login(owner)
    assert f'href="{settings_url}"' in client.get(customers_url).text
    client.force_login(member)
    assert f'href="{settings_url}"' not in client.get(customers_url).text


@pytest.mark.parametrize("count", [1, 20])
def test_the_list_query_count_does_not_grow_with_tokens(
    count, merchant, tokens_url, organization, owner, django_assert_num_queries
):
    for i in range(count):
        make_token(organization, name=f"Token {i}", created_by=owner)
    # session, user, memberships (with organizations), tokens joined to their creators
    with django_assert_num_queries(4):
        response = merchant.get(tokens_url)
    assert len(response.context["rows"]) == count


# --- Staff admin --------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def admin_url(view, *args) -> str:
    return reverse(f"admin:organizations_organizationaccesstoken_{view}", args=args)


@pytest.mark.parametrize("count", [1, 20])
def test_the_admin_changelist_lists_tokens_with_a_pinned_query_count(
    count, staff_client, organization, owner, django_assert_num_queries
):
    for i in range(count):
        make_token(organization, name=f"Token {i}", created_by=owner)
    # session, user, organization filter options, count, full count, tokens joined to
    # organizations and creators
    with django_assert_num_queries(6):
        response = staff_client.get(admin_url("changelist"))
    assert response.status_code == 200
    assert "Token 0" in response.text
    assert "create_access_token" in response.text


def test_the_admin_change_page_shows_hash_and_prefix_read_only(
    staff_client, organization, owner, django_assert_num_queries
):
    from django.contrib.contenttypes.models import ContentType

    token, secret = make_token(organization, created_by=owner)
    ContentType.objects.clear_cache()
    # session, user, the token joined to its organization and creator, its content type
    # (for the history link)
    with django_assert_num_queries(4):
        response = staff_client.get(admin_url("change", token.pk))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields) == ["name"]
    assert token.token_hash in response.text
    assert secret not in response.text


def test_the_admin_cannot_create_tokens(staff_client):
    assert staff_client.get(admin_url("add")).status_code == 403
    assert 'href="' + admin_url("add") not in staff_client.get(admin_url("changelist")).text


def test_the_admin_revoke_action_revokes_through_the_service(staff_client, organization):
    active, active_secret = make_token(organization, name="Active")
    gone, _ = make_token(organization, name="Gone")
    gone.revoked_at = timezone.now() - timedelta(days=1)
    gone.save()
    response = staff_client.post(
        admin_url("changelist"),
        {"action": "revoke_selected", "_selected_action": [active.pk, gone.pk]},
        follow=True,
    )
    assert "Revoked 1 token." in response.text
    assert access_token_authenticate(active_secret) is None
    previous = gone.revoked_at
    gone.refresh_from_db()
    assert gone.revoked_at == previous

"""Every dashboard route: anonymous visitors go to sign in, outsiders get 404.

The walk over the URL configuration fails when a route is added without an entry here,
so no page can ship without its access tests.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from organizations.services import access_token_create
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, SubscriptionFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

# Routes anyone may reach, and the staff admin (guarded by Django's admin itself).
# The hosted checkout is the buyer's: its unguessable client secret is the access check.
PUBLIC = {"login", "logout", "healthz", "checkouts:page", "checkouts:done"}
# The API checks its own routes (tests/api/test_access.py), the customer portal its own
# (tests/portal: its pages sign in customers, not merchants).
SKIPPED_NAMESPACES = {"admin", "api", "portal"}

# name -> (method, needs a customer)
DASHBOARD_ROUTES = {
    "home": ("get", False),
    "analytics:overview": ("get", False),
    "analytics:customer_figures": ("get", True),
    "password_change": ("get", False),
    "customers:list": ("get", False),
    "customers:create": ("get", False),
    "customers:export": ("get", False),
    "customers:detail": ("get", True),
    "customers:edit": ("get", True),
    "customers:delete": ("get", True),
    "customers:orders": ("get", True),
    "customers:metadata": ("get", True),
    "customers:metadata_edit": ("get", True),
    "customers:metadata_remove": ("post", True),
    "customers:subscription_action": ("post", True),
    "customers:data_export": ("get", True),
    "customers:erase": ("get", True),
    "customers:duplicates": ("get", False),
    "customers:duplicate_dismiss": ("post", False),
    "customers:merge": ("get", True),
    "portal_links:copy": ("post", True),
    "portal_links:email": ("post", True),
    "activity:timeline": ("get", True),
    "activity:note_add": ("post", True),
    "activity:note": ("get", True),
    # Editing is its author's alone (a GET of someone else's note is a 403), so the walk
    # posts: the checks before the form are the same.
    "activity:note_edit": ("post", True),
    "activity:note_delete": ("post", True),
    "activity:note_pin": ("post", True),
    "orders:products": ("get", False),
    "orders:product_archive": ("post", False),
    "orders:product_unarchive": ("post", False),
    "orders:product_checkout": ("post", False),
    "orders:order_detail": ("get", False),
    "orders:subscription_detail": ("get", False),
    "organizations:settings": ("get", False),
    "organizations:tokens": ("get", False),
    "organizations:portal": ("get", False),
    "organizations:token_revoke": ("post", False),
    "webhooks:endpoints": ("get", False),
    "webhooks:endpoint": ("get", False),
    "webhooks:endpoint_edit": ("get", False),
    "webhooks:endpoint_enable": ("post", False),
    "webhooks:endpoint_disable": ("post", False),
    "webhooks:endpoint_rotate_secret": ("post", False),
    "webhooks:endpoint_delete": ("post", False),
    "webhooks:delivery_redeliver": ("post", False),
    "audit:log": ("get", False),
    "audit:export": ("get", False),
    "imports:upload": ("get", False),
    "imports:detail": ("get", False),
    "imports:remap": ("post", False),
    "imports:apply": ("post", False),
    "imports:cancel": ("post", False),
    "imports:errors_csv": ("get", False),
}
# Routes outside any organization: a signed-in user's own pages.
ACCOUNT_ROUTES = {"home", "password_change"}
# Routes whose URL names one of the organization's access tokens (instead of a customer).
TOKEN_ROUTES = {"organizations:token_revoke"}
# Routes whose URL names one of the organization's products.
PRODUCT_ROUTES = {"orders:product_archive", "orders:product_unarchive", "orders:product_checkout"}
# Routes whose URL names one of the customer's subscriptions and an action on it.
SUBSCRIPTION_ROUTES = {"customers:subscription_action"}
# Routes whose URL names one of the organization's orders, or subscriptions (their pages).
ORDER_ROUTES = {"orders:order_detail"}
SUBSCRIPTION_PAGE_ROUTES = {"orders:subscription_detail"}
# Routes whose URL names one of the organization's webhook endpoints, and one of its
# deliveries.
ENDPOINT_ROUTES = {
    "webhooks:endpoint",
    "webhooks:endpoint_edit",
    "webhooks:endpoint_enable",
    "webhooks:endpoint_disable",
    "webhooks:endpoint_rotate_secret",
    "webhooks:endpoint_delete",
    "webhooks:delivery_redeliver",
}
DELIVERY_ROUTES = {"webhooks:delivery_redeliver"}
# Routes whose URL names one of the organization's CSV imports (one is uploaded for the walk).
IMPORT_ROUTES = {
    "imports:detail", "imports:remap", "imports:apply", "imports:cancel", "imports:errors_csv"
}  # fmt: skip
# Routes whose URL names one of the customer's notes (one is written for the walk).
NOTE_ROUTES = {"activity:note", "activity:note_edit", "activity:note_delete", "activity:note_pin"}
# Routes only owners may use: members get 403 (outsiders still get 404, like everywhere).
OWNER_ONLY = {"organizations:tokens", "organizations:token_revoke", "webhooks:endpoints"}
OWNER_ONLY |= {"organizations:portal", "organizations:settings"}
OWNER_ONLY |= ENDPOINT_ROUTES
OWNER_ONLY |= {"audit:log", "audit:export"}
OWNER_ONLY |= {"customers:duplicate_dismiss", "customers:merge"}
OWNER_ONLY |= {"customers:data_export", "customers:erase"}


def route_names(patterns=None, namespace=None) -> set[str]:
    names = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = pattern.namespace or namespace
            names |= route_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_route_has_access_tests():
    assert route_names() - PUBLIC == set(DASHBOARD_ROUTES)
    assert set(DASHBOARD_ROUTES) >= TOKEN_ROUTES | OWNER_ONLY | PRODUCT_ROUTES
    assert set(DASHBOARD_ROUTES) >= SUBSCRIPTION_ROUTES | ORDER_ROUTES | SUBSCRIPTION_PAGE_ROUTES
    assert ENDPOINT_ROUTES >= DELIVERY_ROUTES
    assert set(DASHBOARD_ROUTES) >= NOTE_ROUTES | IMPORT_ROUTES


def url_for(
    name: str,
    organization,
    customer,
    token=None,
    product=None,
    subscription=None,
    endpoint=None,
    delivery=None,
    order=None,
):
    if name in ACCOUNT_ROUTES:
        return reverse(name)
    args = [organization.slug] + ([customer.pk] if DASHBOARD_ROUTES[name][1] else [])
    if name in TOKEN_ROUTES:
        args.append(token.pk)
    if name in PRODUCT_ROUTES:
        args.append(product.pk)
    if name in SUBSCRIPTION_ROUTES:
        args += [subscription.pk, "revoke"]
    if name in ORDER_ROUTES:
        args.append(order.pk)
    if name in SUBSCRIPTION_PAGE_ROUTES:
        args.append(subscription.pk)
    if name in ENDPOINT_ROUTES:
        args.append(endpoint.pk)
    if name in DELIVERY_ROUTES:
        args.append(delivery.pk)
    if name in NOTE_ROUTES:
        args.append(_note_of(customer).pk)
    if name in IMPORT_ROUTES:
        args.append(_import_of(customer.organization).pk)
    url = reverse(name, args=args)
    if name == "customers:metadata_edit":
        url += "?key=plan"
    return url


def _note_of(customer):
    from activity.models import Note

    return Note.objects.filter(customer=customer).first() or Note.objects.create(
        organization_id=customer.organization_id, customer=customer, body="Call before renewing."
    )


def _import_of(organization):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports.models import CustomerImport
    from imports.services import import_create

    return CustomerImport.objects.filter(organization=organization).first() or import_create(
        organization=organization,
        file=SimpleUploadedFile("walk.csv", b"email\nwalk@example.com\n"),
    )


@pytest.fixture
def customer(organization):
    return CustomerFactory(organization=organization, metadata={"plan": "pro"})


@pytest.fixture
def token(organization):
    token, _secret = access_token_create(
        organization=organization, name="CI", scopes=["customers:read"]
    )
    return token


@pytest.fixture
def product(organization):
    return ProductFactory(organization=organization)


@pytest.fixture
def subscription(customer):
    return SubscriptionFactory(customer=customer)


@pytest.fixture
def order(customer, subscription):
    return OrderFactory(customer=customer, subscription=subscription)


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(
        organization=organization, url="https://hooks.example.com/in", events=["customer.created"]
    )


@pytest.fixture
def delivery(organization, endpoint):
    event = WebhookEvent.objects.create(
        organization=organization, type="customer.created", payload={"type": "customer.created"}
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, status="failed", attempts=9
    )


def assert_webhooks_untouched(endpoint, delivery):
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.url) == (True, "https://hooks.example.com/in")
    assert WebhookEndpoint.objects.filter(secret=endpoint.secret).exists()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 9)


@pytest.mark.parametrize("name", sorted(DASHBOARD_ROUTES))
def test_anonymous_visitors_are_sent_to_sign_in(
    name, client, organization, customer, token, product, subscription, endpoint, delivery, order
):
    method, _ = DASHBOARD_ROUTES[name]
    url = url_for(
        name, organization, customer, token, product, subscription, endpoint, delivery, order
    )
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", sorted(set(DASHBOARD_ROUTES) - ACCOUNT_ROUTES))
def test_outsiders_get_404(
    name,
    client,
    outsider,
    organization,
    customer,
    token,
    product,
    subscription,
    endpoint,
    delivery,
    order,
):
    client.force_login(outsider)
    method, _ = DASHBOARD_ROUTES[name]
    url = url_for(
        name, organization, customer, token, product, subscription, endpoint, delivery, order
    )
    response = getattr(client, method)(url, {"key": "plan"})
    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro"}
    token.refresh_from_db()
    assert token.revoked_at is None
    product.refresh_from_db()
    assert not product.is_archived
    assert not product.checkouts.exists()
    subscription.refresh_from_db()
    assert subscription.status == "active"
    assert_webhooks_untouched(endpoint, delivery)


@pytest.mark.parametrize("name", sorted(n for n, (_, c) in DASHBOARD_ROUTES.items() if c))
def test_a_customer_of_another_organization_is_404_even_under_my_own_slug(
    name, client, owner, organization, other_organization
):
    theirs = CustomerFactory(organization=other_organization, metadata={"plan": "pro"})
    their_subscription = SubscriptionFactory(customer=theirs)
    client.force_login(owner)
    method, _ = DASHBOARD_ROUTES[name]
    url = url_for(name, organization, theirs, subscription=their_subscription)
    response = getattr(client, method)(url, {"key": "plan"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("name", "user"),
    [
        (name, user)
        for name in sorted(n for n, (m, _) in DASHBOARD_ROUTES.items() if m == "get")
        for user in ["owner", "member"]
        # Members are refused owner-only pages: see the 403 test below.
        if not (user == "member" and name in OWNER_ONLY)
    ],
)
def test_owners_and_members_can_open_every_page(
    name, user, client, request, organization, customer, endpoint, subscription, order
):
    client.force_login(request.getfixturevalue(user))
    url = url_for(
        name, organization, customer, endpoint=endpoint, subscription=subscription, order=order
    )
    response = client.get(url)
    # home sends a one-organization user straight to their customers
    assert response.status_code == (302 if name == "home" else 200)


@pytest.mark.parametrize("name", sorted(OWNER_ONLY))
def test_members_get_403_on_owner_only_routes(
    name, client, member, organization, customer, token, endpoint, delivery
):
    client.force_login(member)
    method, _ = DASHBOARD_ROUTES[name]
    url = url_for(name, organization, customer, token, endpoint=endpoint, delivery=delivery)
    response = getattr(client, method)(url)
    assert response.status_code == 403
    assert "Only owners can open this page" in response.text
    token.refresh_from_db()
    assert token.revoked_at is None
    assert_webhooks_untouched(endpoint, delivery)


def test_any_signed_in_user_can_open_their_own_password_page(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    assert "Change your password" in response.text


def test_home_lets_a_user_of_several_organizations_choose(client, owner, other_organization):
    from tests.factories import MembershipFactory

    MembershipFactory(user=owner, organization=other_organization)
    client.force_login(owner)
    page = client.get(reverse("home")).text
    assert "Choose an organization" in page
    assert reverse("customers:list", args=[other_organization.slug]) in page


def test_sign_in_lands_on_the_organizations_overview(client, owner, organization):
    response = client.post(
        reverse("login"), {"username": "owner", "password": "correct-horse-battery"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("analytics:overview", args=[organization.slug])


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text

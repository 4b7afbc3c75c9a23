from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults

from accounts import views as accounts_views
from checkouts import urls as checkout_urls
from config.api import api
from core import views as core_views
from customers import views as customer_views
from orders import urls as order_urls

admin.site.site_header = "Customers — staff administration"
admin.site.site_title = "Customers admin"

urlpatterns = [
    path("", customer_views.dashboard_home, name="home"),
    path("login/", accounts_views.sign_in, name="login"),
    path("account/password/", accounts_views.password_change, name="password_change"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Customers → Import (the CSV importer's pages).
    path("dashboard/<slug:org_slug>/customers/import/", include("imports.urls")),
    path("dashboard/<slug:org_slug>/customers/", include("customers.urls")),
    path(
        "dashboard/<slug:org_slug>/customers/<uuid:customer_id>/timeline/", include("activity.urls")
    ),
    # A customer's portal links (the portal sits above customers, so it serves them).
    path(
        "dashboard/<slug:org_slug>/customers/<uuid:customer_id>/portal-link/",
        include("portal.dashboard_urls"),
    ),
    path("dashboard/<slug:org_slug>/settings/", include("organizations.urls")),
    path("dashboard/<slug:org_slug>/settings/webhooks/", include("webhooks.urls")),
    path("dashboard/<slug:org_slug>/settings/audit-log/", include("activity.audit_urls")),
    # The products pages, orders' own and checkouts' "try the checkout" (checkouts sit above
    # orders, so orders/urls.py cannot name that view), and the order and subscription
    # pages, under one namespace.
    path(
        "dashboard/<slug:org_slug>/",
        include(
            (
                [
                    path(
                        "products/",
                        include(
                            [*order_urls.product_urlpatterns, *checkout_urls.product_urlpatterns]
                        ),
                    ),
                    *order_urls.urlpatterns,
                ],
                "orders",
            )
        ),
    ),
    path("dashboard/<slug:org_slug>/", include("analytics.urls")),
    path("v1/", api.urls),
    path("checkout/", include("checkouts.urls")),
    path("portal/", include("portal.urls")),
    path("healthz", core_views.healthz, name="healthz"),
    # Browsers ask for it on pages that declare no icon (the admin, the API docs).
    path("favicon.ico", lambda request: HttpResponseRedirect(static("favicon.svg"))),
    path("admin/", admin.site.urls),
]
if settings.BENCH:
    urlpatterns.append(path("bench/", include("bench.floor")))


# The API answers in JSON even for a path it does not know, with Polar's error bodies.
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith("/v1/"):
        return JsonResponse({"error": "ResourceNotFound", "detail": "Not found"}, status=404)
    return defaults.page_not_found(request, exception)


# A Host not in ALLOWED_HOSTS (or any other request Django refuses as suspicious) is a 400
# before any view runs; the API and the health check still answer it in JSON.
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith("/v1/") or request.path_info == "/healthz":
        detail = (
            "The Host header names a site this server does not serve."
            if isinstance(exception, DisallowedHost)
            else "Bad request."
        )
        return JsonResponse({"error": "BadRequest", "detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith("/v1/"):
        detail = "Something went wrong on our side."
        return JsonResponse({"error": "InternalServerError", "detail": detail}, status=500)
    return defaults.server_error(request)


handler400 = bad_request
handler404 = not_found
handler500 = server_error

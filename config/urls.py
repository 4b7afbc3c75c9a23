from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api import api
from core import views as core_views
from organizations import views as organization_views

admin.site.site_header = "Customers — staff administration"
admin.site.site_title = "Customers admin"

urlpatterns = [
    path("", organization_views.dashboard_home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/<slug:org_slug>/customers/", include("customers.urls")),
    path("dashboard/<slug:org_slug>/settings/", include("organizations.urls")),
    path("dashboard/<slug:org_slug>/products/", include("orders.urls")),
    path("v1/", api.urls),
    path("checkout/", include("checkouts.urls")),
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

"""The hosted portal's pages, under /portal/<org-slug>/ (see portal/views.py on why the
routes have no names)."""

from django.urls import path

from portal import views

urlpatterns = [
    path("<slug:org_slug>/", views.home),
    path("<slug:org_slug>/sign-in/", views.sign_in_email),
    path("<slug:org_slug>/sign-in/code/", views.sign_in_code),
    path("<slug:org_slug>/sign-out/", views.sign_out),
    path("<slug:org_slug>/billing/", views.billing),
    path(
        "<slug:org_slug>/subscriptions/<uuid:subscription_id>/<slug:action>/",
        views.subscription_action,
    ),
    path("<slug:org_slug>/orders/<uuid:order_id>/receipt", views.receipt),
]

"""The hosted portal's pages, under /portal/<org-slug>/."""

from django.urls import path

from portal import receipts, views

app_name = "portal"

urlpatterns = [
    path("<slug:org_slug>/", views.home, name="home"),
    path("<slug:org_slug>/sign-in/", views.sign_in_email, name="sign_in"),
    path("<slug:org_slug>/sign-in/code/", views.sign_in_code, name="sign_in_code"),
    path("<slug:org_slug>/sign-out/", views.sign_out, name="sign_out"),
    path("<slug:org_slug>/billing/", views.billing, name="billing"),
    path(
        "<slug:org_slug>/subscriptions/<uuid:subscription_id>/<slug:action>/",
        views.subscription_action,
        name="subscription_action",
    ),
    path("<slug:org_slug>/orders/<uuid:order_id>/receipt", views.receipt, name="receipt"),
    path(
        "<slug:org_slug>/orders/<uuid:order_id>/receipt.pdf",
        receipts.receipt_pdf,
        name="receipt_pdf",
    ),
]

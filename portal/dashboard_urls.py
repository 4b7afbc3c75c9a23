"""The dashboard's portal links, under a customer's page
(/dashboard/<org-slug>/customers/<customer-id>/portal-link/)."""

from django.urls import path

from portal import dashboard_views

app_name = "portal_links"

urlpatterns = [
    path("copy/", dashboard_views.portal_link_copy, name="copy"),
    path("email/", dashboard_views.portal_link_email, name="email"),
]

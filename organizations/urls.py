from django.urls import path

from organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.organization_settings, name="settings"),
    path("tokens/", views.access_tokens, name="tokens"),
    path("portal/", views.portal_settings, name="portal"),
    path("tokens/<uuid:token_id>/revoke/", views.access_token_revoke, name="token_revoke"),
]

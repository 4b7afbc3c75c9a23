from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoints, name="endpoints"),
    path("<uuid:endpoint_id>/", views.endpoint_log, name="endpoint"),
    path("<uuid:endpoint_id>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("<uuid:endpoint_id>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("<uuid:endpoint_id>/disable/", views.endpoint_disable, name="endpoint_disable"),
    path(
        "<uuid:endpoint_id>/rotate-secret/",
        views.endpoint_rotate_secret,
        name="endpoint_rotate_secret",
    ),
    path("<uuid:endpoint_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver/",
        views.delivery_redeliver,
        name="delivery_redeliver",
    ),
]

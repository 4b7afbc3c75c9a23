from django.urls import path

from customers import subscription_views, views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export/", views.customer_export, name="export"),
    path("<uuid:customer_id>/", views.customer_detail, name="detail"),
    path("<uuid:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<uuid:customer_id>/delete/", views.customer_delete, name="delete"),
    path("<uuid:customer_id>/orders/", views.customer_orders, name="orders"),
    path("<uuid:customer_id>/metadata/", views.metadata_add, name="metadata"),
    path("<uuid:customer_id>/metadata/edit/", views.metadata_edit, name="metadata_edit"),
    path("<uuid:customer_id>/metadata/remove/", views.metadata_remove, name="metadata_remove"),
    path(
        "<uuid:customer_id>/subscriptions/<uuid:subscription_id>/<str:action>/",
        subscription_views.subscription_action,
        name="subscription_action",
    ),
]

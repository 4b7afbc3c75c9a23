from django.urls import path

from customers import merge_views, privacy_views, subscription_views, views

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
    # Issue 18: duplicates and merges (customers/merge_views.py).
    path("duplicates/", merge_views.duplicates_list, name="duplicates"),
    path("duplicates/dismiss/", merge_views.duplicate_dismiss, name="duplicate_dismiss"),
    path("<uuid:customer_id>/merge/", merge_views.customer_merge, name="merge"),
    # Issue 18: a customer's data exported and erased (customers/privacy_views.py).
    path(
        "<uuid:customer_id>/data-export/",
        privacy_views.customer_data_export,
        name="data_export",
    ),
    path("<uuid:customer_id>/erase/", privacy_views.customer_erase, name="erase"),
]

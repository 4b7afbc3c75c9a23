from django.urls import path

from orders import order_views, views

app_name = "orders"

# config/urls.py serves these under dashboard/<org_slug>/: the products pages (with
# checkouts.urls.product_urlpatterns, the "try the checkout" button), and the pages of one
# order and one subscription.

product_urlpatterns = [
    path("", views.products, name="products"),
    path("<uuid:product_id>/archive/", views.product_archive, name="product_archive"),
    path("<uuid:product_id>/unarchive/", views.product_unarchive, name="product_unarchive"),
]

urlpatterns = [
    path("orders/<uuid:order_id>/", order_views.order_detail, name="order_detail"),
    path(
        "subscriptions/<uuid:subscription_id>/",
        order_views.subscription_detail,
        name="subscription_detail",
    ),
]

from django.urls import path

from orders import views

app_name = "orders"

# With checkouts.urls.product_urlpatterns (the "try the checkout" button): config/urls.py.

urlpatterns = [
    path("", views.products, name="products"),
    path("<uuid:product_id>/archive/", views.product_archive, name="product_archive"),
    path("<uuid:product_id>/unarchive/", views.product_unarchive, name="product_unarchive"),
]

from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.products, name="products"),
    path("<uuid:product_id>/archive/", views.product_archive, name="product_archive"),
    path("<uuid:product_id>/unarchive/", views.product_unarchive, name="product_unarchive"),
    path("<uuid:product_id>/checkout/", views.product_checkout, name="product_checkout"),
]

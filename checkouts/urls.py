from django.urls import path

from checkouts import views

app_name = "checkouts"

urlpatterns = [
    path("<str:client_secret>/", views.checkout_page, name="page"),
    path("<str:client_secret>/done/", views.checkout_done, name="done"),
]

# Part of the products pages (config/urls.py serves them with orders.urls, under the
# `orders` namespace, so the URL and its name stay the products page's own).
product_urlpatterns = [
    path("<uuid:product_id>/checkout/", views.product_checkout, name="product_checkout"),
]

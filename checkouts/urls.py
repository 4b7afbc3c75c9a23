from django.urls import path

from checkouts import views

app_name = "checkouts"

urlpatterns = [
    path("<str:client_secret>/", views.checkout_page, name="page"),
    path("<str:client_secret>/done/", views.checkout_done, name="done"),
]

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("customers/<uuid:customer_id>/figures/", views.customer_figures, name="customer_figures"),
]

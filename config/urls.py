from django.contrib import admin
from django.urls import path

from core import views as core_views

admin.site.site_header = "Customers — staff administration"
admin.site.site_title = "Customers admin"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

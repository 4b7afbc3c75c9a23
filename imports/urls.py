from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("", views.import_upload, name="upload"),
    path("<uuid:import_id>/", views.import_detail, name="detail"),
    path("<uuid:import_id>/mapping/", views.import_remap, name="remap"),
    path("<uuid:import_id>/apply/", views.import_apply, name="apply"),
    path("<uuid:import_id>/cancel/", views.import_cancel, name="cancel"),
    path("<uuid:import_id>/errors.csv", views.import_errors_csv, name="errors_csv"),
]

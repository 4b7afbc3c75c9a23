"""A customer's timeline and notes, mounted by config/urls.py under the customer's
dashboard path: dashboard/<org_slug>/customers/<customer_id>/timeline/."""

from django.urls import path

from activity import views

app_name = "activity"

urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("notes/", views.note_add, name="note_add"),
    path("notes/<uuid:note_id>/", views.note_detail, name="note"),
    path("notes/<uuid:note_id>/edit/", views.note_edit, name="note_edit"),
    path("notes/<uuid:note_id>/delete/", views.note_delete, name="note_delete"),
    path("notes/<uuid:note_id>/pin/", views.note_pin, name="note_pin"),
]

from django.contrib import admin

from activity.models import Entry


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    """The audit log, read-only: entries are written by the services alone."""

    list_display = ("created_at", "type", "actor_type", "actor_name", "source", "customer")
    list_filter = ("type", "actor_type", "source")
    search_fields = ("actor_name", "request_id")
    raw_id_fields = ("customer", "organization")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

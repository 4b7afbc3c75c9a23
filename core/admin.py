"""Admin building blocks for tables with millions of rows."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from core.models import OutgoingEmail


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows, so a changelist never counts a whole large table.

    With `show_full_result_count = False` the admin skips the unfiltered count; this caps
    the filtered one. Past the cap the admin shows "10001" rows and pages up to there;
    narrowing the search or filters reaches the rest.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


class LargeTableAdmin(admin.ModelAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    # UUIDv7 keys sort by creation time, and the primary key index serves the sort.
    ordering = ("-pk",)


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("deleted", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(LargeTableAdmin):
    """The outbox, read-only: what was sent, what waits for a retry and why, what failed.
    The bodies stay out of it (they carry sign-in codes and portal links)."""

    list_display = ("to", "status", "attempts", "next_attempt_at", "sent_at", "created_at")
    list_filter = ("status",)
    search_fields = ("=to",)
    search_help_text = "Exact recipient address."
    fields = (
        "to",
        "from_name",
        "reply_to",
        "organization",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
        "locked_by",
        "locked_until",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

"""Admin building blocks for tables with millions of rows."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property


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

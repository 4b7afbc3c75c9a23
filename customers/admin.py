from django.contrib import admin

from core.admin import DeletedFilter, LargeTableAdmin
from customers import services
from customers.models import BILLING_FIELDS, Customer


@admin.register(Customer)
class CustomerAdmin(LargeTableAdmin):
    list_display = ["email", "name", "external_id", "organization", "created_at", "deleted_at"]
    list_select_related = ["organization"]
    list_filter = [DeletedFilter, "organization"]
    search_fields = ["email", "name", "=external_id"]
    search_help_text = "Email or name contains the text, or external ID is exactly it."
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "version", "created_at", "modified_at", "deleted_at"]
    fieldsets = [
        (
            None,
            {"fields": ["id", "organization", "email", "email_verified", "name", "external_id"]},
        ),
        (
            "Billing",
            {"fields": BILLING_FIELDS},
        ),
        (
            "Metadata",
            {
                "fields": ["metadata"],
                "description": "A JSON object: at most 50 keys of 1-40 characters; values "
                "are strings of 1-500 characters, integers, floats or booleans.",
            },
        ),
        ("History", {"fields": ["version", "created_at", "modified_at", "deleted_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
            if obj.external_id_locked or obj.is_deleted:
                readonly.append("external_id")
        return readonly

    def save_model(self, request, obj, form, change):
        # Route through the services so the admin obeys the same rules as every other path.
        if change:
            changes = {
                f: getattr(obj, f) for f in form.changed_data if f in services.UPDATABLE_FIELDS
            }
            updated = services.customer_update(customer=obj, **changes)
        else:
            fields = {f: getattr(obj, f) for f in services.PROFILE_FIELDS}
            updated = services.customer_create(
                organization=obj.organization,
                external_id=obj.external_id,
                metadata=obj.metadata,
                **fields,
            )
        obj.pk, obj.version = updated.pk, updated.version

    def delete_model(self, request, obj):
        services.customer_delete(customer=obj)

    def delete_queryset(self, request, queryset):
        for customer in queryset.live():
            services.customer_delete(customer=customer)

    def has_change_permission(self, request, obj=None):
        # Deleted customers are history: visible, not editable.
        if obj is not None and obj.is_deleted:
            return False
        return super().has_change_permission(request, obj)

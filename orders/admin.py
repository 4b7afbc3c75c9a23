from django.contrib import admin

from core.admin import LargeTableAdmin
from orders.models import Order, Product, Subscription


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "organization",
        "price_amount",
        "price_currency",
        "recurring_interval",
        "is_archived",
    ]
    list_filter = ["is_archived", "recurring_interval", "organization"]
    list_select_related = ["organization"]
    search_fields = ["name"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "modified_at"]


@admin.register(Order)
class OrderAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "customer",
        "product",
        "status",
        "billing_reason",
        "total_amount",
        "currency",
        "organization",
        "created_at",
    ]
    list_filter = ["status", "billing_reason", "organization"]
    list_select_related = ["customer", "product", "organization"]
    search_fields = ["=id", "=customer__external_id", "=customer__email"]
    search_help_text = "Exact order ID, customer external ID or customer email."
    raw_id_fields = ["customer", "product", "subscription"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "modified_at"]


@admin.register(Subscription)
class SubscriptionAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "customer",
        "product",
        "status",
        "amount",
        "currency",
        "current_period_end",
        "cancel_at_period_end",
        "organization",
    ]
    list_filter = ["status", "cancel_at_period_end", "organization"]
    list_select_related = ["customer", "product", "organization"]
    search_fields = ["=id", "=customer__external_id", "=customer__email"]
    search_help_text = "Exact subscription ID, customer external ID or customer email."
    raw_id_fields = ["customer", "product"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["id", "created_at", "modified_at"]

from django.contrib import admin, messages

from organizations.models import Membership, Organization, OrganizationAccessToken
from organizations.services import access_token_revoke


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "created_at", "modified_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["organization"]


TOKENS_ARE_CREATED_ELSEWHERE = (
    "Tokens are created by an organization's owners on Settings → API tokens, or with "
    "`manage.py create_access_token`, because the secret can be shown only once. Here they "
    "can be renamed and revoked."
)


@admin.register(OrganizationAccessToken)
class OrganizationAccessTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "organization",
        "prefix",
        "scope_list",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["name", "=token_prefix", "organization__name"]
    ordering = ["-created_at"]
    actions = ["revoke_selected"]
    # Only the name is editable: scopes, expiry and revocation change what a token can do,
    # so they go through the services (the revoke action) or a new token.
    fieldsets = [
        (
            None,
            {
                "fields": ["id", "organization", "name", "token_prefix", "token_hash", "scopes"],
                "description": TOKENS_ARE_CREATED_ELSEWHERE,
            },
        ),
        (
            "Lifetime",
            {
                "fields": [
                    "created_at",
                    "created_by",
                    "expires_at",
                    "last_used_at",
                    "revoked_at",
                    "modified_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "id",
        "organization",
        "token_prefix",
        "token_hash",
        "scopes",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "modified_at",
    ]

    def get_queryset(self, request):
        # Both the changelist and the change page show the organization and the creator.
        return super().get_queryset(request).select_related("organization", "created_by")

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoke instead: a revoked token stays on record (who made it, when, its use).
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {"subtitle": TOKENS_ARE_CREATED_ELSEWHERE, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Prefix", ordering="token_prefix")
    def prefix(self, token: OrganizationAccessToken) -> str:
        return f"{token.token_prefix}…"

    @admin.display(description="Scopes")
    def scope_list(self, token: OrganizationAccessToken) -> str:
        return ", ".join(token.scopes)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            access_token_revoke(token=token)
            revoked += 1
        self.message_user(
            request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}.", messages.SUCCESS
        )

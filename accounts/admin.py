from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from accounts.forms import AdminSignInForm
from accounts.models import SignInLock
from accounts.services import sign_in_locks_clear
from accounts.views import answer_refusal

# The admin's own sign-in page is protected like /login/, and answers a refusal the same.
admin.site.login_form = AdminSignInForm
_admin_login = admin.site.login


def _admin_sign_in(request, extra_context=None):
    response = _admin_login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    return answer_refusal(response, form) if request.method == "POST" else response


admin.site.login = _admin_sign_in


class LockedNowFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("locked", "Locked"), ("unlocked", "Not locked")]

    def queryset(self, request, queryset):
        if self.value() == "locked":
            return queryset.filter(locked_until__gt=timezone.now())
        if self.value() == "unlocked":
            return queryset.exclude(locked_until__gt=timezone.now())
        return queryset


@admin.register(SignInLock)
class SignInLockAdmin(admin.ModelAdmin):
    list_display = ["kind", "key", "failures", "locked_until", "status", "last_failure_at"]
    list_filter = [LockedNowFilter, "kind"]
    search_fields = ["key"]
    ordering = ["-last_failure_at"]
    actions = ["clear_selected_locks"]
    # The rows are counters written by sign-ins; staff only read them and clear them.
    readonly_fields = [
        "kind",
        "key",
        "failures",
        "window_started_at",
        "last_failure_at",
        "locked_until",
    ]

    def has_add_permission(self, request):
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)  # "Clear selected locks" says what it does
        return actions

    @admin.display(description="status")
    def status(self, lock: SignInLock) -> str:
        now = timezone.now()
        if lock.is_locked(now):
            return "Locked"
        window = timedelta(minutes=settings.SIGN_IN_WINDOW_MINUTES)
        if lock.locked_until is None and lock.window_started_at + window > now:
            return "Counting failures"
        return "Expired"

    @admin.action(
        description="Clear this lock",  # on a lock's own page
        description_plural="Clear selected locks",
        permissions=["delete"],
        location=[admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM],
    )
    def clear_selected_locks(self, request, queryset):
        cleared = sign_in_locks_clear(locks=queryset)
        self.message_user(
            request,
            f"Cleared {cleared} lock{'' if cleared == 1 else 's'}: those sign-ins work again.",
            messages.SUCCESS,
        )
        if request.resolver_match.url_name == "accounts_signinlock_change":
            # The lock's own page is gone with it.
            return HttpResponseRedirect(reverse("admin:accounts_signinlock_changelist"))
        return None

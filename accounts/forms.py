from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services import (
    SignInRefusal,
    minutes_left,
    sign_in_success_record,
    sign_in_try,
    sign_in_try_failed,
    sign_in_try_taken_back,
)
from core.clients import client_address


class SignInProtectionMixin:
    """Refuses a try before any password is checked while the username or address is
    locked or in the pause after a recent failure, counts each wrong password, and clears
    the username's count on success. Serves our sign-in form and the admin's.

    It never sleeps: a refused try is answered at once, and `refusal` tells the view to
    make it a 429 with `Retry-After`."""

    refusal: SignInRefusal | None = None
    retry_after_seconds: int | None = None  # for the 429's Retry-After

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()  # the field errors say what is missing
        now = timezone.now()
        address = client_address(self.request) if self.request is not None else ""
        # Counted before the password is checked, so tries sent at once cannot all pass.
        self.refusal = sign_in_try(username=username, address=address, now=now)
        if self.refusal:
            raise self._refused_error(now)
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            if error.code != "invalid_login":
                sign_in_try_taken_back(username=username, address=address, now=now)
                raise
            failure = sign_in_try_failed(username=username, address=address, now=now)
            if failure.locked_until:
                self.refusal = SignInRefusal(until=failure.locked_until, locked=True)
                raise self._refused_error(now) from error
            raise  # the pause this failure asks for refuses the next try, if it comes early
        sign_in_success_record(username=username, address=address, now=now)
        return cleaned_data

    def _refused_error(self, now) -> ValidationError:
        self.retry_after_seconds = self.refusal.seconds_left(now)
        if self.refusal.locked:
            count, unit = minutes_left(self.refusal.until, now), "minute"
        else:
            count, unit = self.retry_after_seconds, "second"
        return ValidationError(
            "Too many failed sign-ins. Try again in %(count)s %(unit)s%(plural)s.",
            code="locked" if self.refusal.locked else "paused",
            params={"count": count, "unit": unit, "plural": "" if count == 1 else "s"},
        )


class SignInForm(SignInProtectionMixin, AuthenticationForm):
    pass


class AdminSignInForm(SignInProtectionMixin, AdminAuthenticationForm):
    pass

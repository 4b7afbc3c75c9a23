from time import sleep

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services import (
    client_address,
    minutes_left,
    sign_in_failure_record,
    sign_in_locked_until,
    sign_in_success_record,
)


class SignInProtectionMixin:
    """Refuses a locked username or address before any password is checked, counts each
    wrong password (answering it a little later each time), and clears the username's
    count on success. Serves our sign-in form and the admin's."""

    locked_until = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()  # the field errors say what is missing
        now = timezone.now()
        address = client_address(self.request) if self.request is not None else ""
        self.locked_until = sign_in_locked_until(username=username, address=address, now=now)
        if self.locked_until:
            raise self._locked_error(now)
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            if error.code != "invalid_login":
                raise
            failure = sign_in_failure_record(username=username, address=address, now=now)
            if failure.locked_until:
                self.locked_until = failure.locked_until
                raise self._locked_error(now) from error
            sleep(failure.delay_seconds)
            raise
        sign_in_success_record(username=username)
        return cleaned_data

    def _locked_error(self, now) -> ValidationError:
        minutes = minutes_left(self.locked_until, now)
        return ValidationError(
            "Too many failed sign-ins. Try again in %(minutes)s minute%(plural)s.",
            code="locked",
            params={"minutes": minutes, "plural": "" if minutes == 1 else "s"},
        )


class SignInForm(SignInProtectionMixin, AuthenticationForm):
    pass


class AdminSignInForm(SignInProtectionMixin, AdminAuthenticationForm):
    pass

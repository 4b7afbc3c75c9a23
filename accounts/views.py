from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from accounts.forms import SignInForm


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        return answer_refusal(super().form_invalid(form), form)


def answer_refusal(response, form):
    """A sign-in refused for a lock or a pause is a 429 Too Many Requests, with the page
    that says so and `Retry-After` saying when to come back."""
    if form is not None and getattr(form, "refusal", None):
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after_seconds)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view: it checks the old password, runs the password validators, and keeps
    this session (with a new key) while every other session of the user ends."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request, "Your password was changed. Your other sessions are signed out."
        )
        return response


sign_in = SignInView.as_view()
password_change = PasswordChangeView.as_view()

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from accounts.forms import SignInForm


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.refusal:
            # Too Many Requests, with the page that says so and when to come back.
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

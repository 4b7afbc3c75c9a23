"""Forms validate and normalise; the rules themselves live in organizations/services.py."""

from django import forms

from organizations.models import AccessTokenScope, Organization

EXPIRY_CHOICES = [
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("", "Never"),
]


class AccessTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="What uses this token, such as “Billing sync”. Only you see it.",
        error_messages={"required": "Give the token a name."},
    )
    scopes = forms.MultipleChoiceField(
        choices=[(value, f"{label} ({value})") for value, label in AccessTokenScope.choices],
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        initial="90",
        label="Expires",
        help_text="A token that never expires works until you revoke it.",
    )


class PortalSettingsForm(forms.ModelForm):
    """The customer portal's settings; the model's validators (email, http(s) URL) check
    the values."""

    class Meta:
        model = Organization
        fields = [
            "portal_allow_subscription_cancel",
            "portal_allow_billing_update",
            "portal_support_email",
            "portal_return_url",
        ]
        error_messages = {
            "portal_support_email": {
                "invalid": "Enter an email address, such as help@example.com.",
            },
            "portal_return_url": {
                "invalid": "Enter an http:// or https:// address, "
                "such as https://example.com/account.",
            },
        }

    def clean_portal_support_email(self) -> str:
        return self.cleaned_data["portal_support_email"].strip().lower()

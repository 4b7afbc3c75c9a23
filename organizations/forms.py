"""Forms validate and normalise; the rules themselves live in organizations/services.py."""

from django import forms

from organizations.models import AccessTokenScope

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

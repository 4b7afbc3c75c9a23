"""Forms validate and normalise; the rules themselves live in organizations/services.py."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django import forms

from core.currencies import CURRENCY_CODES
from core.timezones import timezone_names
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


# The regions IANA names begin with; other names (UTC, Etc/GMT+5, old aliases such as
# US/Eastern) go to "Other".
TIMEZONE_REGIONS = (
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
)  # fmt: skip


def timezone_choices(now: datetime | None = None) -> list:
    """Every zone `validate_timezone` accepts, UTC first, then by region, each labelled
    with its offset now (`Europe/Paris (UTC+01:00)`), so the list reads like a clock."""
    now = now or datetime.now(UTC)
    groups: dict[str, list] = {region: [] for region in (*TIMEZONE_REGIONS, "Other")}
    for name in sorted(timezone_names() - {"UTC"}):
        region = name.split("/", 1)[0]
        label = f"{name} (UTC{now.astimezone(ZoneInfo(name)).strftime('%:z')})"
        groups[region if region in TIMEZONE_REGIONS and "/" in name else "Other"].append(
            (name, label)
        )
    return [("UTC", "UTC"), *((region, names) for region, names in groups.items() if names)]


CURRENCY_CHOICES = [(code, code.upper()) for code in sorted(CURRENCY_CODES)]


class OrganizationSettingsForm(forms.Form):
    """The organization's name, timezone and currency. Only names from the lists pass: the
    values are compared exactly, as the select sends them (no trimming, no case folding)."""

    name = forms.CharField(
        max_length=120,
        label="Name",
        error_messages={"required": "Give the organization a name."},
    )
    timezone = forms.ChoiceField(
        label="Timezone",
        # Help texts are HTML (templates/forms/field.html): entities keep the typography.
        help_text="Where your days begin: the overview&rsquo;s &ldquo;today&rdquo; and each "
        "day&rsquo;s figures, a customer&rsquo;s figures and the customer list&rsquo;s date "
        "filters. A change is applied in the background, where the kept figures are cut "
        "again in the new zone&rsquo;s days: a few minutes for a large shop.",
        error_messages={
            "required": "Choose a timezone.",
            "invalid_choice": "Unknown timezone “%(value)s”: choose one from the list, "
            "such as Europe/Paris.",
        },
    )
    currency = forms.ChoiceField(
        label="Currency",
        choices=CURRENCY_CHOICES,
        help_text="The currency the overview and the metrics API show first. Figures in "
        "other currencies stay apart, never converted.",
        error_messages={
            "required": "Choose a currency.",
            "invalid_choice": "Unknown currency “%(value)s”: choose an ISO 4217 code from the "
            "list, such as USD.",
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = timezone_choices()

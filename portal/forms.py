"""The hosted portal's forms: the customer's billing details, and sign-in by code."""

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.forms import CountryField
from customers.models import ADDRESS_PARTS, Customer

BILLING_DETAILS_FIELDS = [
    "name",
    "billing_name",
    *(f"billing_address_{part}" for part in ADDRESS_PARTS),
    "tax_id",
]


class BillingDetailsForm(forms.ModelForm):
    """What a customer may change of themselves: never the email or the external ID. The
    model's validators (the same the services run) check the values."""

    billing_address_country = CountryField(label=_("Country"))

    class Meta:
        model = Customer
        fields = BILLING_DETAILS_FIELDS
        labels = {
            "name": _("Name"),
            "billing_name": _("Billing name"),
            "billing_address_line1": _("Address"),
            "billing_address_line2": _("Address (line 2)"),
            "billing_address_postal_code": _("Postal code"),
            "billing_address_city": _("City"),
            "billing_address_state": _("State or region"),
            "tax_id": _("Tax ID"),
        }

    def changes(self) -> dict:
        """The submitted fields, for `customer_update`."""
        return {name: self.cleaned_data[name] for name in BILLING_DETAILS_FIELDS}


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class CodeForm(forms.Form):
    email = forms.EmailField(max_length=320, widget=forms.HiddenInput)
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits from the email.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "maxlength": 6,
            }
        ),
    )

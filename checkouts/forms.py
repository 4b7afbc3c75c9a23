from django import forms

from checkouts.payments import TestModeProcessor
from customers.forms import CountryField
from customers.models import EMAIL_MAX_LENGTH


class CheckoutForm(forms.Form):
    """The hosted checkout page: who is buying, where to bill, and the (test) payment."""

    customer_email = forms.EmailField(label="Email", max_length=EMAIL_MAX_LENGTH)
    customer_name = forms.CharField(label="Full name", max_length=256, required=False)
    customer_billing_address_line1 = forms.CharField(
        label="Address", max_length=256, required=False
    )
    customer_billing_address_postal_code = forms.CharField(
        label="Postal code", max_length=32, required=False
    )
    customer_billing_address_city = forms.CharField(label="City", max_length=128, required=False)
    customer_billing_address_country = CountryField()
    payment_token = forms.ChoiceField(
        label="Test card",
        choices=[
            (TestModeProcessor.SUCCESS, "Payment succeeds"),
            (TestModeProcessor.DECLINE, "Card is declined"),
        ],
        initial=TestModeProcessor.SUCCESS,
        widget=forms.RadioSelect,
    )

    def clean(self):
        data = super().clean()
        address = [
            data.get(f"customer_billing_address_{p}") for p in ("line1", "postal_code", "city")
        ]
        country = "customer_billing_address_country"
        if any(address) and not data.get(country) and country not in self.errors:
            self.add_error(country, "Add the country of this address.")
        return data

    def buyer(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "payment_token"}

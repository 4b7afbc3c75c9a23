"""Forms validate and normalise; the rules themselves live in the models and services."""

from decimal import Decimal

from django import forms

from core.currencies import CURRENCY_CODES, minor_unit_exponent
from orders.models import RecurringInterval

# The currencies the dashboard offers; the API accepts every ISO 4217 code.
CURRENCY_CHOICES = [
    ("usd", "USD — US dollar"),
    ("eur", "EUR — Euro"),
    ("gbp", "GBP — British pound"),
    ("cad", "CAD — Canadian dollar"),
    ("aud", "AUD — Australian dollar"),
    ("nzd", "NZD — New Zealand dollar"),
    ("chf", "CHF — Swiss franc"),
    ("sek", "SEK — Swedish krona"),
    ("nok", "NOK — Norwegian krone"),
    ("dkk", "DKK — Danish krone"),
    ("pln", "PLN — Polish złoty"),
    ("jpy", "JPY — Japanese yen"),
    ("sgd", "SGD — Singapore dollar"),
    ("hkd", "HKD — Hong Kong dollar"),
    ("inr", "INR — Indian rupee"),
    ("brl", "BRL — Brazilian real"),
    ("mxn", "MXN — Mexican peso"),
]
assert {code for code, _ in CURRENCY_CHOICES} <= CURRENCY_CODES

ONE_TIME = "one_time"
BILLING_CHOICES = [(ONE_TIME, "One-time"), *RecurringInterval.choices]

# The API's limit for a price (orders/schemas.py), so both entry points agree.
MAX_PRICE_AMOUNT = 99_999_999


class ProductListForm(forms.Form):
    """The list's state: whether archived products are shown (`?archived=1`)."""

    archived = forms.BooleanField(required=False)


class ProductCreateForm(forms.Form):
    """A product with its one price, typed in major units ("19.00") and stored in minor
    units (1900) with the currency's own number of decimals."""

    name = forms.CharField(
        max_length=256, label="Name", error_messages={"required": "Give the product a name."}
    )
    description = forms.CharField(
        required=False,
        max_length=5000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    price = forms.DecimalField(
        min_value=0,
        label="Price",
        help_text="In the currency's main unit, such as 19.00.",
        error_messages={
            "required": "Enter a price, such as 19.00.",
            "invalid": "Enter a price, such as 19.00.",
            "min_value": "The price cannot be negative.",
        },
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="usd", label="Currency")
    billing = forms.ChoiceField(
        choices=BILLING_CHOICES,
        initial=ONE_TIME,
        label="Billing",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how the product is billed."},
    )

    def clean(self) -> dict:
        data = super().clean()
        price, currency = data.get("price"), data.get("currency")
        if price is not None and currency:
            amount = self._minor_units(price, currency)
            if amount is not None:
                data["price_amount"] = amount
        return data

    def _minor_units(self, price: Decimal, currency: str) -> int | None:
        exponent = minor_unit_exponent(currency)
        amount = price.scaleb(exponent)
        if amount != amount.to_integral_value():
            if exponent == 0:
                message = f"{currency.upper()} has no minor units: enter a whole amount."
            else:
                message = f"{currency.upper()} prices have at most {exponent} decimal places."
            self.add_error("price", message)
            return None
        if amount > MAX_PRICE_AMOUNT:
            limit = Decimal(MAX_PRICE_AMOUNT).scaleb(-exponent)
            self.add_error("price", f"The price can be at most {limit:,} {currency.upper()}.")
            return None
        return int(amount)

    def service_arguments(self) -> dict:
        """The keyword arguments of `product_create` for the cleaned form."""
        data = self.cleaned_data
        billing = data["billing"]
        return {
            "name": data["name"],
            "description": data["description"],
            "price_amount": data["price_amount"],
            "price_currency": data["currency"],
            "recurring_interval": None if billing == ONE_TIME else billing,
        }

"""Forms validate and normalise; the rules themselves live in the model and metadata.py."""

import json
import math
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from core.metadata import MAX_KEY_LENGTH, key_errors, validate_metadata, value_errors
from customers.countries import UNKNOWN_COUNTRY_MESSAGE, country_choices
from customers.models import BILLING_FIELDS, EXTERNAL_ID_LOCKED_MESSAGE, Customer
from customers.querysets import DEFAULT_SORTING, SORTINGS

SORTING_CHOICES = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("email", "Email A to Z"),
    ("-email", "Email Z to A"),
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
    ("-lifetime_revenue", "Highest lifetime revenue"),
    ("lifetime_revenue", "Lowest lifetime revenue"),
    ("-last_order_at", "Latest order first"),
    ("last_order_at", "Oldest order first"),
]
assert {s.lstrip("-") for s, _ in SORTING_CHOICES} == set(SORTINGS)


class CountrySelect(forms.Select):
    """The country menu with its ~250 options written in one pass. Django's Select renders
    a template per option: that was most of the time of every page showing the menu (the
    portal's home page, a customer's edit form). Same markup, same attributes."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(code)}"{" selected" if str(code) in selected else ""}>'
            f"{escape(label)}</option>"
            for code, label in self.choices
        )
        final_attrs = flatatt(self.build_attrs(self.attrs, attrs))
        return mark_safe(f'<select name="{escape(name)}"{final_attrs}>{options}</select>')


class CountryField(forms.ChoiceField):
    """A menu of ISO 3166-1 countries by name that submits the code; a native <select>,
    so typing a name's first letters picks it, with or without JavaScript."""

    widget = CountrySelect

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", lambda: [("", _("Choose a country")), *country_choices()])
        kwargs.setdefault("label", _("Country"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("error_messages", {"invalid_choice": UNKNOWN_COUNTRY_MESSAGE})
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        value = super().to_python(value).strip()
        return value.upper() if len(value) == 2 else value

    def validate(self, value) -> None:
        try:
            super().validate(value)
        except ValidationError as error:
            # Quote what was sent, as the model's message does.
            if error.code == "invalid_choice":
                raise ValidationError(
                    UNKNOWN_COUNTRY_MESSAGE, code="invalid_choice", params={"value": repr(value)}
                ) from None
            raise


# The list's day filters accept days in these years, as the overview and metrics API do.
SEGMENT_MIN_DAY, SEGMENT_MAX_DAY = date(2000, 1, 1), date(2099, 12, 31)
# The day-range filters: (label, from parameter, to parameter).
DAY_RANGE_FILTERS = (
    ("First order", "first_order_from", "first_order_to"),
    ("Ordered", "ordered_from", "ordered_to"),
)
SEGMENT_PARAMS = ("at_risk", *(name for _label, *names in DAY_RANGE_FILTERS for name in names))


class DayParameterField(forms.DateField):
    """A day given as `YYYY-MM-DD` in the URL, refused with a message naming the
    parameter (the list answers its first error as a plain 400)."""

    input_formats = ["%Y-%m-%d"]

    def __init__(self, *, name: str, **kwargs):
        self.parameter = name
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "error_messages",
            {"invalid": f"{name} must be a day written YYYY-MM-DD, such as 2026-11-30."},
        )
        super().__init__(**kwargs)

    def validate(self, value) -> None:
        super().validate(value)
        if value and not SEGMENT_MIN_DAY <= value <= SEGMENT_MAX_DAY:
            raise ValidationError(
                f"{self.parameter} must be between {SEGMENT_MIN_DAY} and {SEGMENT_MAX_DAY}, "
                f"not {value}.",
                code="out_of_range",
            )


def day_range_label(label: str, first: date | None, last: date | None) -> str:
    """A chip's words: "First order 1 Nov 2026 \u2013 30 Nov 2026" (an en dash),
    "Ordered from 1 Nov 2026", "Ordered until 30 Nov 2026", "Ordered on 1 Nov 2026"."""

    def day(value: date) -> str:
        return f"{value.day} {value:%b %Y}"

    if first and last:
        if first == last:
            return f"{label} on {day(first)}"
        return f"{label} {day(first)} \u2013 {day(last)}"
    return f"{label} from {day(first)}" if first else f"{label} until {day(last)}"


class CustomerListForm(forms.Form):
    """The list's state, named as the API names it: query, active, sorting; and the
    dashboard's own `column`, a metadata key shown as a column, and segments the
    overview's lists link to: `at_risk=1`, `first_order_from`/`_to` and
    `ordered_from`/`_to` (the organization's days, inclusive)."""

    query = forms.CharField(required=False, max_length=200, label="Search")
    active = forms.TypedChoiceField(
        required=False,
        choices=[("", "All"), ("true", "Active"), ("false", "Inactive")],
        coerce=lambda v: v == "true",
        empty_value=None,
    )
    sorting = forms.ChoiceField(required=False, choices=SORTING_CHOICES, label="Sort")
    column = forms.CharField(required=False, max_length=MAX_KEY_LENGTH, label="Metadata column")
    at_risk = forms.TypedChoiceField(
        required=False,
        choices=[("", "All"), ("1", "At risk")],
        coerce=lambda v: v == "1",
        empty_value=False,
        error_messages={
            "invalid_choice": "at_risk must be 1 (customers with a subscription at risk) or "
            "left out, not %(value)s."
        },
    )
    first_order_from = DayParameterField(name="first_order_from")
    first_order_to = DayParameterField(name="first_order_to")
    ordered_from = DayParameterField(name="ordered_from")
    ordered_to = DayParameterField(name="ordered_to")

    def clean_sorting(self) -> str:
        return self.cleaned_data["sorting"] or DEFAULT_SORTING

    def clean(self) -> dict:
        data = super().clean()
        for _label, first, last in DAY_RANGE_FILTERS:
            if data.get(first) and data.get(last) and data[first] > data[last]:
                self.add_error(last, f"{first} ({data[first]}) is after {last} ({data[last]}).")
        return data

    def segments(self) -> list[dict]:
        """The segment filters in use, each with its chip's label and its parameters:
        `[{"label": "At risk", "params": [("at_risk", "1")]}, ...]`."""
        data = self.cleaned_data
        segments = []
        if data.get("at_risk"):
            segments.append({"label": "At risk", "params": [("at_risk", "1")]})
        for label, first, last in DAY_RANGE_FILTERS:
            if data.get(first) or data.get(last):
                params = [(n, data[n].isoformat()) for n in (first, last) if data.get(n)]
                shown = day_range_label(label, data.get(first), data.get(last))
                segments.append({"label": shown, "params": params})
        return segments


class MetadataFilterForm(forms.Form):
    """Adds one `metadata[key]=value` filter (pages without JavaScript post this)."""

    filter_key = forms.CharField(max_length=MAX_KEY_LENGTH, label="Metadata key")
    filter_value = forms.CharField(max_length=500, label="Value")


# The types a value can have, named as the menu and the badges name them.
VALUE_TYPES = [
    ("string", "Text"),
    ("integer", "Integer"),
    ("float", "Number"),
    ("boolean", "Yes/No"),
]
VALUE_TYPE_LABELS = dict(VALUE_TYPES)
YES_NO_CHOICES = [("true", "Yes"), ("false", "No")]
_YES_NO_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def value_type(value: Any) -> str:
    """The type name shown beside a metadata value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def typed_value(raw: str, kind: str) -> Any:
    """Turn the text a person typed into a value of the type they chose."""
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise ValidationError("Enter a whole number, such as 42.") from None
    if kind == "float":
        try:
            number = float(raw.strip())
        except ValueError:
            raise ValidationError("Enter a number, such as 4.5.") from None
        if not math.isfinite(number):
            raise ValidationError("Enter a finite number.")
        return number
    if kind == "boolean":
        word = raw.strip().lower()
        if word not in _YES_NO_WORDS:
            raise ValidationError("Choose Yes or No.")
        return _YES_NO_WORDS[word]
    return raw


def shown_value(value: Any) -> str:
    """A value as the dashboard shows it: Yes/No for yes/no, floats with their decimal."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def stored_as(value: Any) -> str:
    """What a value is stored as, e.g. "Number 1000.0" for "1e3" typed as a Number."""
    shown = f"“{value}”" if isinstance(value, str) else shown_value(value)
    return f"{VALUE_TYPE_LABELS[value_type(value)]} {shown}"


# A write that carries what the editor saw (a version, a value) is checked against what
# is stored now. Without that token, or with a damaged one, there is nothing to check
# against: such a form is refused (400), never saved unchecked.
DAMAGED_FORM_MESSAGE = (
    "Nothing was saved: this form did not say what it was opened on, so saving it could "
    "overwrite someone else's change. Reload the page and make your change again."
)


class SeenValueField(forms.Field):
    """A metadata value as the editor saw it, sent back as JSON in a hidden input."""

    widget = forms.HiddenInput
    default_error_messages = {"required": DAMAGED_FORM_MESSAGE, "invalid": DAMAGED_FORM_MESSAGE}

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        try:
            seen = json.loads(value)
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if value_errors("seen", seen):  # not a value metadata can hold
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return seen


class ConcurrencyTokenMixin:
    """Forms with fields that guard against lost updates (`token_fields`)."""

    token_fields: tuple[str, ...] = ()

    @property
    def token_is_damaged(self) -> bool:
        """True when a guard field is missing or malformed: answer 400, save nothing."""
        return any(name in self.errors for name in self.token_fields)


class MetadataEntryForm(ConcurrencyTokenMixin, forms.Form):
    """A new metadata key and its typed value, as the dashboard edits one key at a time."""

    key = forms.CharField(strip=True, required=False, label="Key")
    type = forms.ChoiceField(choices=VALUE_TYPES, initial="string", label="Type")
    value = forms.CharField(strip=False, required=False, label="Value")
    # The Yes/No menu shown instead of the text box for the Yes/No type.
    value_boolean = forms.ChoiceField(choices=YES_NO_CHOICES, required=False, label="Value")

    def __init__(self, *args, **kwargs):
        # Several of these forms share a page; the templates give inputs their own ids.
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)

    @classmethod
    def for_existing(cls, key: str, value: Any, **kwargs) -> "MetadataEditForm":
        return MetadataEditForm.for_existing(key, value, **kwargs)

    def raw_value(self) -> str:
        """What was entered: the Yes/No menu for that type (a typed "yes" also does)."""
        # What was sent, also when a field's own cleaning refused it (for the preview).
        if self.cleaned_data.get("type") == "boolean" and self["value_boolean"].data:
            return self["value_boolean"].data
        return self["value"].data or ""

    def preview(self) -> tuple[str, bool]:
        """What the value would be stored as, or why it cannot be: (text, is_error)."""
        if "type" not in self.cleaned_data:
            return "Choose a type.", True
        if not self.raw_value():
            return "", False  # nothing typed yet
        try:
            value = typed_value(self.raw_value(), self.cleaned_data["type"])
        except ValidationError as error:
            return " ".join(error.messages), True
        problems = value_errors(self.cleaned_data.get("key") or "this key", value)
        if problems:
            return " ".join(problems), True
        return f"Will be stored as {stored_as(value)}", False

    def clean(self) -> dict:
        data = super().clean()
        key = data.get("key", "")
        for message in key_errors(key):
            self.add_error("key", message)
        if "value" in data and "type" in data:
            try:
                value = typed_value(self.raw_value(), data["type"])
            except ValidationError as error:
                self.add_error("value", error)
            else:
                for message in value_errors(key, value):
                    self.add_error("value", message)
                data["typed_value"] = value
        return data


class MetadataEditForm(MetadataEntryForm):
    """An existing key: the key being edited and its value as the editor saw it (as
    JSON), so a change made meanwhile by someone else is noticed instead of overwritten."""

    original_key = forms.CharField(
        widget=forms.HiddenInput, error_messages={"required": DAMAGED_FORM_MESSAGE}
    )
    expected = SeenValueField()
    token_fields = ("original_key", "expected")

    @classmethod
    def for_existing(cls, key: str, value: Any, **kwargs) -> "MetadataEditForm":
        initial = {
            "key": key,
            "type": value_type(value),
            "value": "" if isinstance(value, bool) else str(value),
            "value_boolean": ("true" if value else "false") if isinstance(value, bool) else "",
            "original_key": key,
            "expected": json.dumps(value),
        }
        return cls(initial=initial, **kwargs)


class MetadataRemoveForm(ConcurrencyTokenMixin, forms.Form):
    """Remove one key, if it still holds the value the editor saw."""

    key = forms.CharField(strip=False, error_messages={"required": DAMAGED_FORM_MESSAGE})
    expected = SeenValueField()
    token_fields = ("key", "expected")


class CustomerProfileForm(ConcurrencyTokenMixin, forms.ModelForm):
    """Profile fields; the external ID only while it is empty."""

    # The version the editor opened; required when editing (see DAMAGED_FORM_MESSAGE).
    version = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        min_value=1,
        error_messages={
            "required": DAMAGED_FORM_MESSAGE,
            "invalid": DAMAGED_FORM_MESSAGE,
            "min_value": DAMAGED_FORM_MESSAGE,
        },
    )
    token_fields = ("version",)
    billing_address_country = CountryField()

    class Meta:
        model = Customer
        fields = ["email", "name", "external_id", *BILLING_FIELDS]
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        if not self.instance._state.adding:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
        if self.instance.external_id_locked:
            field = self.fields["external_id"]
            field.disabled = True
            field.help_text = "Locked: an external ID can never change once set."

    def clean_external_id(self) -> str | None:
        value = self.cleaned_data.get("external_id")
        if self.instance.external_id_locked and value != self.instance.external_id:
            raise ValidationError(EXTERNAL_ID_LOCKED_MESSAGE)
        return (value or "").strip() or None

    def changes(self) -> dict:
        """The submitted profile fields, for `customer_update`."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class CustomerCreateForm(CustomerProfileForm):
    """A new customer: the profile plus any number of metadata rows.

    The rows come as repeated `metadata_key`, `metadata_type`, `metadata_value` and
    `metadata_value_boolean` (the Yes/No menu) fields, so JavaScript can add rows without
    renumbering a formset; each row is validated alone and its errors are shown beside it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metadata_rows: list[dict] = []

    def clean(self) -> dict:
        data = super().clean()
        raw = self.data
        keys = raw.getlist("metadata_key") if hasattr(raw, "getlist") else []
        types = raw.getlist("metadata_type") if hasattr(raw, "getlist") else []
        values = raw.getlist("metadata_value") if hasattr(raw, "getlist") else []
        booleans = raw.getlist("metadata_value_boolean") if hasattr(raw, "getlist") else []
        booleans += [""] * (len(keys) - len(booleans))  # posts made before the Yes/No menu
        metadata: dict[str, Any] = {}
        self.metadata_rows = []
        for key, kind, value, boolean in zip(keys, types, values, booleans, strict=False):
            if not key.strip() and not value:
                continue  # a blank row
            entry = MetadataEntryForm(
                {"key": key, "type": kind, "value": value, "value_boolean": boolean}
            )
            row = {"form": entry, "errors": []}
            if entry.is_valid():
                if entry.cleaned_data["key"] in metadata:
                    row["errors"].append(f"Metadata key {key.strip()!r} is listed twice.")
                metadata[entry.cleaned_data["key"]] = entry.cleaned_data["typed_value"]
            else:
                row["errors"] = [m for ms in entry.errors.values() for m in ms]
            self.metadata_rows.append(row)
        if any(row["errors"] for row in self.metadata_rows):
            raise ValidationError("Fix the metadata rows marked below.", code="metadata")
        validate_metadata(metadata)  # the limits on the whole object, e.g. 50 keys
        self.instance.metadata = metadata
        data["metadata"] = metadata
        return data

"""ISO 3166-1 countries for billing addresses: codes are stored, names are shown.

The list comes from django-countries, which follows ISO's changes and names countries
as people know them ("United Kingdom", "South Korea"). One rule serves the model (so the
API, admin and imports obey it) and the forms' country menus.
"""

import functools

from django.core.exceptions import ValidationError
from django_countries import countries

UNKNOWN_COUNTRY_MESSAGE = (
    "Choose a country from the list: %(value)s is not an ISO 3166-1 country code."
)


def country_choices() -> list[tuple[str, str]]:
    """(code, name) of every country, sorted by name."""
    return [(country.code, str(country.name)) for country in countries]


def country_name(code: str) -> str:
    """The country's name for a stored code ("" when unset or unknown)."""
    return str(countries.name(code)) if code else ""


@functools.cache
def _codes() -> frozenset[str]:
    # Checking `code in countries` walks django-countries' machinery (~10 µs); an import
    # checks a million rows.
    return frozenset(country.code for country in countries)


def validate_country_code(code: str) -> None:
    """Refuse a code that is not an ISO 3166-1 alpha-2 country; "" means not set."""
    if code and code not in _codes():
        raise ValidationError(
            UNKNOWN_COUNTRY_MESSAGE, code="unknown_country", params={"value": repr(code)}
        )

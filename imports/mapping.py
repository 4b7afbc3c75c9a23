"""Which customer field each column of an uploaded file fills.

Our own export's header maps itself; common names from other systems map automatically
(`Email`, `email_address`, `E-mail`, `First Name` + `Last Name`, `Country Code`, `Zip`,
...); `metadata.<key>` columns fill that metadata key, and a `metadata` column holds a
JSON object. The merchant may change any of it before the dry run.
"""

import json
import math
import re
from dataclasses import dataclass

from core.metadata import MAX_KEY_LENGTH
from customers.models import BILLING_FIELDS

# What a column can fill. FIRST_NAME and LAST_NAME are joined into the name.
EMAIL, NAME, FIRST_NAME, LAST_NAME = "email", "name", "first_name", "last_name"
EXTERNAL_ID, METADATA, IGNORE = "external_id", "metadata", "ignore"
PROFILE_TARGETS = BILLING_FIELDS  # billing name and address, tax ID, locale
TARGETS = (EMAIL, NAME, FIRST_NAME, LAST_NAME, EXTERNAL_ID, *PROFILE_TARGETS, METADATA, IGNORE)
METADATA_KEY_PREFIX = "metadata."

# Column names as other systems write them, normalised (see `normalise`).
ALIASES = {
    EMAIL: {"email", "e_mail", "email_address", "mail", "customer_email", "emailaddress"},
    NAME: {"name", "full_name", "fullname", "customer_name", "display_name"},
    FIRST_NAME: {"first_name", "firstname", "given_name", "forename"},
    LAST_NAME: {"last_name", "lastname", "surname", "family_name"},
    EXTERNAL_ID: {"external_id", "externalid", "user_id", "userid", "external_customer_id"},
    "billing_name": {"billing_name", "company", "company_name"},
    "billing_address_line1": {
        "billing_address_line1", "address", "address1", "address_1", "address_line_1",
        "address_line1", "street", "street_address",
    },
    "billing_address_line2": {
        "billing_address_line2", "address2", "address_2", "address_line_2", "address_line2",
    },
    "billing_address_postal_code": {
        "billing_address_postal_code", "postal_code", "postcode", "zip", "zip_code", "zipcode",
    },
    "billing_address_city": {"billing_address_city", "city", "town"},
    "billing_address_state": {"billing_address_state", "state", "province", "state_province"},
    "billing_address_country": {
        "billing_address_country", "country", "country_code", "billing_country",
    },
    "tax_id": {"tax_id", "taxid", "vat", "vat_id", "vat_number", "tax_number"},
    "locale": {"locale", "language"},
    METADATA: {"metadata"},
    # Our export's columns that an import does not set: our ID and the creation time.
    IGNORE: {"id", "created_at"},
}  # fmt: skip
_BY_ALIAS = {alias: target for target, aliases in ALIASES.items() for alias in aliases}

# How a metadata column's cells become values.
TEXT, INTEGER, NUMBER, YES_NO, INFERRED = "text", "integer", "number", "yes_no", "inferred"
METADATA_TYPES = (INFERRED, TEXT, INTEGER, NUMBER, YES_NO)
_YES = {"true", "yes", "y", "1"}
_NO = {"false", "no", "n", "0"}
_INTEGER = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class ColumnMapping:
    index: int
    header: str
    target: str  # one of TARGETS, or METADATA_KEY_PREFIX + key
    metadata_type: str = INFERRED

    @property
    def metadata_key(self) -> str | None:
        if self.target.startswith(METADATA_KEY_PREFIX):
            return self.target.removeprefix(METADATA_KEY_PREFIX)
        return None


def normalise(header: str) -> str:
    """`E-mail` → `e_mail`, `First Name` → `first_name`, `Zip ` → `zip`."""
    return re.sub(r"[^0-9a-z]+", "_", header.strip().casefold()).strip("_")


def auto_map(header: tuple[str, ...]) -> list[ColumnMapping]:
    """A mapping for each column: our export's and the common names map themselves, a
    `metadata.<key>` column to that key, and every other column is ignored (the merchant
    may map it). A target is taken once; a second column naming it is ignored."""
    taken: set[str] = set()
    mappings = []
    for index, name in enumerate(header):
        target = IGNORE
        if name.strip().casefold().startswith(METADATA_KEY_PREFIX):
            key = name.strip()[len(METADATA_KEY_PREFIX) :]
            if key:
                target = METADATA_KEY_PREFIX + key
        else:
            target = _BY_ALIAS.get(normalise(name), IGNORE)
        if target != IGNORE and target in taken:
            target = IGNORE
        taken.add(target)
        mappings.append(ColumnMapping(index=index, header=name, target=target))
    return mappings


def mapping_errors(mappings: list[ColumnMapping]) -> list[str]:
    """What makes a mapping unusable, each said for the merchant."""
    errors = []
    targets = [m.target for m in mappings if m.target != IGNORE]
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        errors.append(f"Two columns fill {target!r}; map one of them to something else.")
    if EMAIL not in targets and EXTERNAL_ID not in targets:
        errors.append("Map a column to email or to external ID: rows are matched by them.")
    for mapping in mappings:
        key = mapping.metadata_key
        if key is not None and len(key) > MAX_KEY_LENGTH:
            errors.append(
                f"Column {mapping.header!r}: the metadata key {key!r} is longer than "
                f"{MAX_KEY_LENGTH} characters."
            )
        if mapping.target not in TARGETS and key is None:
            errors.append(f"Column {mapping.header!r}: unknown field {mapping.target!r}.")
        if mapping.metadata_type not in METADATA_TYPES:
            errors.append(f"Column {mapping.header!r}: unknown type {mapping.metadata_type!r}.")
    return errors


def metadata_value(cell: str, kind: str = INFERRED) -> str | int | float | bool:
    """A metadata cell as a typed value; ValueError says why a cell is not of its type.
    Inferred: integers and decimal numbers as numbers, true/false as booleans, the rest as
    text (so `007` stays text: a leading zero is an identifier, not a number)."""
    text = cell.strip()
    if kind == TEXT:
        return cell
    if kind == INTEGER:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{cell!r} is not a whole number.")
        return int(text)
    if kind == NUMBER:
        if not _NUMBER.fullmatch(text) or not math.isfinite(number := float(text)):
            raise ValueError(f"{cell!r} is not a number.")
        return int(text) if _INTEGER.fullmatch(text) else number
    if kind == YES_NO:
        if text.casefold() in _YES:
            return True
        if text.casefold() in _NO:
            return False
        raise ValueError(f"{cell!r} is not yes or no (true/false, yes/no, 1/0).")
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text) and not (
        len(text.lstrip("+-")) > 1 and text.lstrip("+-")[0] == "0"
    ):
        return int(text)
    if _NUMBER.fullmatch(text) and "." in text and math.isfinite(number := float(text)):
        return number
    return cell


def metadata_object(cell: str) -> dict:
    """A `metadata` column's cell: a JSON object (empty cell: no keys)."""
    if not cell.strip():
        return {}
    try:
        value = json.loads(cell)
    except json.JSONDecodeError as error:
        raise ValueError(f"The metadata is not valid JSON ({error.msg}).") from None
    if not isinstance(value, dict):
        raise ValueError('The metadata must be a JSON object, such as {"plan": "pro"}.')
    return value

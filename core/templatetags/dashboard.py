from django import template

from core.currencies import format_amount

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """Minor units as a price: 123456|money:"usd" -> "USD 1,234.56"."""
    return format_amount(amount or 0, currency)


@register.filter
def initials(customer) -> str:
    source = (customer.name or customer.email or "?").replace(".", " ").replace("@", " ")
    parts = [p for p in source.split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def metadata_display(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""Payment processors. Checkout and renewal logic talks only to this interface, so a real
processor can be added by writing one class and naming it in PAYMENT_PROCESSOR.
"""

import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    succeeded: bool
    reference: str = ""
    decline_reason: str = ""


class PaymentProcessor(Protocol):
    name: str
    test_mode: bool

    def charge(self, *, amount: int, currency: str, token: str, description: str) -> PaymentResult:
        """Charge `amount` minor units with the payment method `token`."""
        ...


class TestModeProcessor:
    """No money moves. `tok_test_success` pays; `tok_test_decline` is declined, as is any
    other token. Clearly labelled as test mode wherever a buyer sees it."""

    name = "test"
    test_mode = True
    SUCCESS = "tok_test_success"
    DECLINE = "tok_test_decline"

    def charge(self, *, amount: int, currency: str, token: str, description: str) -> PaymentResult:
        if token == self.SUCCESS:
            return PaymentResult(succeeded=True, reference=f"test_ch_{secrets.token_hex(8)}")
        if token == self.DECLINE:
            return PaymentResult(succeeded=False, decline_reason="Your card was declined.")
        return PaymentResult(
            succeeded=False,
            decline_reason=f"Unknown test payment method {token!r}: use "
            f"{self.SUCCESS} or {self.DECLINE}.",
        )


def get_processor() -> PaymentProcessor:
    return import_string(settings.PAYMENT_PROCESSOR)()

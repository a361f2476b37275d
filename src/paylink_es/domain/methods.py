"""The catalogue of payment methods a link can accept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from paylink_es.domain.errors import PaymentMethodUnknownError

# method code -> (family, label). Families decide instructions, fees and settlement.
PAYMENT_METHODS: Final[dict[str, tuple[str, str]]] = {
    "va_bca": ("virtual_account", "BCA Virtual Account"),
    "va_bri": ("virtual_account", "BRI Virtual Account"),
    "va_bni": ("virtual_account", "BNI Virtual Account"),
    "va_mandiri": ("virtual_account", "Mandiri Virtual Account"),
    "va_permata": ("virtual_account", "Permata Virtual Account"),
    "va_bsi": ("virtual_account", "BSI Virtual Account"),
    "va_cimb": ("virtual_account", "CIMB Niaga Virtual Account"),
    "va_muamalat": ("virtual_account", "Muamalat Virtual Account"),
    "va_sinarmas": ("virtual_account", "Sinarmas Virtual Account"),
    "va_bnc": ("virtual_account", "BNC Virtual Account"),
    "qris": ("qris", "QRIS"),
    "ewallet_ovo": ("ewallet", "OVO"),
    "ewallet_dana": ("ewallet", "DANA"),
    "ewallet_shopeepay": ("ewallet", "ShopeePay"),
    "ewallet_linkaja": ("ewallet", "LinkAja"),
    "card": ("card", "Credit / debit card"),
    "retail_alfamart": ("retail", "Alfamart"),
    "retail_indomaret": ("retail", "Indomaret"),
}

DEFAULT_METHODS: Final[tuple[str, ...]] = tuple(PAYMENT_METHODS)


def method_family(method: str) -> str:
    """The family (virtual_account, qris, ewallet, card, retail) of a method code."""
    return PAYMENT_METHODS[method][0]


def check_method(method: object, field: str = "method") -> str:
    """Return ``method`` if it is in the catalogue, else raise naming the field."""
    if not isinstance(method, str) or method not in PAYMENT_METHODS:
        raise PaymentMethodUnknownError(
            field, f"{method!r} is not a payment method (known: {', '.join(PAYMENT_METHODS)})"
        )
    return method


def check_methods(methods: Iterable[object] | None, field: str = "methods") -> list[str]:
    """Validate a list of method codes: known, non-empty, duplicates removed, order kept."""
    if methods is None:
        return list(DEFAULT_METHODS)
    if isinstance(methods, str) or not isinstance(methods, list | tuple):
        raise PaymentMethodUnknownError(field, "must be a list of method codes")
    checked: list[str] = []
    for index, method in enumerate(methods):
        code = check_method(method, f"{field}[{index}]")
        if code not in checked:
            checked.append(code)
    if not checked:
        raise PaymentMethodUnknownError(field, "must name at least one payment method")
    return checked

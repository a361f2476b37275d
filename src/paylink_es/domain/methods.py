"""The catalogue of payment methods a link can accept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from paylink_es.domain.errors import InvalidFieldError, PaymentMethodUnknownError

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


# The currencies each family's rails take: every Indonesian rail (virtual accounts, QRIS,
# e-wallets, retail outlets) moves rupiah only; cards are also charged in the others.
FAMILY_CURRENCIES: Final[dict[str, frozenset[str]]] = {
    "virtual_account": frozenset({"IDR"}),
    "qris": frozenset({"IDR"}),
    "ewallet": frozenset({"IDR"}),
    "retail": frozenset({"IDR"}),
    "card": frozenset({"IDR", "USD", "SGD", "MYR"}),
}

# The least each family takes, in rupiah, from the channels' published limits (a VA or a
# retail payment code below Rp 10,000 is refused by the banks and outlets; QRIS below
# Rp 1,500 and cards below Rp 5,000 by the acquirers; e-wallets take Rp 100). Keys may
# also be a method code (an override for that method); see ``minimum_for``.
DEFAULT_MINIMUMS: Final[dict[str, int]] = {
    "virtual_account": 10_000,
    "qris": 1_500,
    "ewallet": 100,
    "card": 5_000,
    "retail": 10_000,
}
# Cards in the other currencies: 50 minor units (0.50), the card networks' usual floor.
OTHER_CURRENCY_MINIMUM: Final = 50


def accepts_currency(method: str, currency: str) -> bool:
    """Whether the rails of ``method`` take ``currency``."""
    return currency in FAMILY_CURRENCIES[method_family(method)]


def minimum_for(method: str, currency: str, minimums: dict[str, int] | None = None) -> int:
    """The least amount ``method`` takes in ``currency`` (minor units): a method's own
    entry in ``minimums``, else its family's, else the defaults."""
    if currency != "IDR":
        return OTHER_CURRENCY_MINIMUM
    table = {**DEFAULT_MINIMUMS, **(minimums or {})}
    return table.get(method, table[method_family(method)])


def check_minimums(value: object, field: str = "method_minimums") -> dict[str, int]:
    """A table of minimums: keys are method codes or families, values whole rupiah ≥ 1."""
    if not isinstance(value, dict):
        raise InvalidFieldError(field, "must map a method or family to a whole number")
    families = set(FAMILY_CURRENCIES)
    checked: dict[str, int] = {}
    for key, amount in value.items():
        if not isinstance(key, str) or (key not in PAYMENT_METHODS and key not in families):
            raise InvalidFieldError(f"{field}.{key}", "is not a payment method or family")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise InvalidFieldError(f"{field}.{key}", f"must be a whole number ≥ 1, got {amount!r}")
        checked[key] = amount
    return checked

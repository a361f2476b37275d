"""Which payment methods a link can accept: its currency, each method's minimum, its fee.

A method a merchant names (``methods`` given) that cannot take the link refuses the link,
naming the method and why. When the merchant names none, the link is offered by every
method that can take it, and refused only if none can. A fee plan that cannot price a
method in the link's currency never prices it at zero: that method cannot take the link.
"""

from __future__ import annotations

from dataclasses import dataclass

from paylink_es.domain.errors import InvalidFieldError, MethodUnavailableError
from paylink_es.domain.fees import NEVER_PAYER_PAYS, FeePlan, fee_for
from paylink_es.domain.methods import PAYMENT_METHODS, accepts_currency, method_family, minimum_for
from paylink_es.domain.money import Money


def _shown(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


@dataclass(frozen=True)
class Offer:
    """What a link asks: its currency and the amounts a payer may bring."""

    currency: str
    low: int  # the fixed amount, or the open amount's minimum
    high: int | None  # the fixed amount, or the open amount's maximum (None: no maximum)
    open: bool = False  # the payer chooses the amount within low..high


def refusal(
    method: str, offer: Offer, plan: FeePlan, minimums: dict[str, int] | None = None
) -> str | None:
    """Why ``method`` cannot take ``offer`` (None: it can)."""
    found = _refused(method, offer, plan, minimums)
    return None if found is None else found[1]


def _refused(
    method: str, offer: Offer, plan: FeePlan, minimums: dict[str, int] | None
) -> tuple[str, str] | None:
    """The field of the link that keeps ``method`` out, and why (None: it can take it)."""
    label = PAYMENT_METHODS[method][1]
    if not accepts_currency(method, offer.currency):
        return "currency", f"{label} ({method}) takes IDR only, not {offer.currency}"
    least = minimum_for(method, offer.currency, minimums)
    top = offer.high
    if top is not None and top < least:
        return (
            "amount_max" if offer.open else "amount",
            f"{label} ({method}) takes at least {_shown(least, offer.currency)}; "
            f"this link asks at most {_shown(top, offer.currency)}",
        )
    if plan.currency != offer.currency:
        return (
            "currency",
            f"the fee plan prices {plan.currency}, not {offer.currency}, for {label} ({method})",
        )
    try:
        rule = plan.rule_for(method)
    except InvalidFieldError:
        return "methods", f"the fee plan has no fee for {label} ({method})"
    if rule.payer_pays and method_family(method) not in NEVER_PAYER_PAYS:
        return None  # the payer brings the fee on top: it is always covered
    amount = max(offer.low, least)
    if fee_for(plan, method, Money(amount, offer.currency)).amount >= amount:
        return (
            "amount_min" if offer.open else "amount",
            f"{_shown(amount, offer.currency)} cannot cover the fee of {label} ({method})",
        )
    return None


def accepted_methods(
    methods: list[str],
    offer: Offer,
    plan: FeePlan,
    *,
    named: bool,
    minimums: dict[str, int] | None = None,
) -> list[str]:
    """The methods of ``methods`` that can take the offer; raises naming the first that
    cannot when the merchant ``named`` them, or when none can."""
    kept: list[str] = []
    reasons: list[tuple[str, str]] = []
    for index, method in enumerate(methods):
        found = _refused(method, offer, plan, minimums)
        if found is None:
            kept.append(method)
        elif named:
            raise MethodUnavailableError(f"methods[{index}]", found[1])
        else:
            reasons.append(found)
    if not kept:
        # Named for what keeps every method out (the amount, the currency), not the
        # methods the merchant never named.
        field, why = reasons[0]
        raise MethodUnavailableError(field, f"no payment method can take this link: {why}")
    return kept


def check_amount_for(
    method: str, amount: Money, plan: FeePlan, minimums: dict[str, int] | None = None
) -> None:
    """Raise naming ``amount`` when ``method`` cannot take exactly this amount."""
    why = refusal(method, Offer(amount.currency, amount.amount, amount.amount), plan, minimums)
    if why is not None:
        raise MethodUnavailableError("amount", why)

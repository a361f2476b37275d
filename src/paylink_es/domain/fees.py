"""Fee plans: what a merchant pays (or passes on) per payment method, in exact integers.

A rate is an integer in parts per million of the gross (``rate_ppm``: 7_000 = 0.7%,
29_000 = 2.9%), so every rate on the channel price lists is exact and no float or
Decimal is ever involved.

Rounding rule: the percent part is rounded half up to the whole minor unit (for IDR,
exponent 0, the whole rupiah): ``(gross * rate_ppm + 500_000) // 1_000_000``. So 0.7% of
Rp 10,001 (70.007) is Rp 70 and 0.7% of Rp 500 (3.5) is Rp 4. The fee is then
``flat + percent``, raised to ``minimum``, lowered to ``maximum``, and never more than
the gross. A gross at or below ``free_up_to`` pays no fee at all (QRIS micro merchants:
0% up to Rp 100,000, 0.3% of the whole amount above).

Refunds: ``refund_fee`` says what happens to the fee when a payment is refunded.
``"kept"`` (the default, as most payment platforms do): the platform keeps the fee it
charged, so a full refund costs the merchant the fee. ``"returned"``: the fee goes back
to the merchant in proportion to the amount refunded (a full refund returns all of it).
A plan sets it for every method; a family's or a method's rule may set its own (the rule
that prices a method decides, else the plan). The policy of the plan that priced a
payment travels with the payment (``Payment.Verified``), so changing a plan later does
not change what its refunds do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from paylink_es.domain.errors import AmountInvalidError, CurrencyMismatchError, InvalidFieldError
from paylink_es.domain.methods import PAYMENT_METHODS, check_method, method_family
from paylink_es.domain.money import Money, check_currency

PPM: Final = 1_000_000
FAMILIES: Final[frozenset[str]] = frozenset(family for family, _ in PAYMENT_METHODS.values())
# QRIS MDR is borne by the merchant by Bank Indonesia rule: never surcharged to the payer.
NEVER_PAYER_PAYS: Final[frozenset[str]] = frozenset({"qris"})
_RULE_INTS: Final = ("flat", "rate_ppm", "minimum", "free_up_to")
_PLAN_KEYS: Final = ("name", "currency", "refund_fee", "families", "methods")
# What happens to the fee on a refund: the platform keeps it, or gives it back pro rata.
FEE_KEPT: Final = "kept"
FEE_RETURNED: Final = "returned"
REFUND_FEE_POLICIES: Final = (FEE_KEPT, FEE_RETURNED)


class FeePlanInvalidError(InvalidFieldError):
    """A fee rule or plan has a value no fee plan may hold."""

    type = "fee-plan-invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.reason = message


class FeeRuleMissingError(InvalidFieldError):
    """A fee plan has no rule for the method asked about."""

    type = "fee-rule-missing"


def check_refund_fee(value: object, name: str = "refund_fee") -> str:
    """A refund fee policy, ``"kept"`` or ``"returned"``; else an error naming the field."""
    if not isinstance(value, str) or value not in REFUND_FEE_POLICIES:
        raise FeePlanInvalidError(name, f"must be 'kept' or 'returned', got {value!r}")
    return value


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeePlanInvalidError(name, f"must be an integer, got {value!r}")
    if value < 0:
        raise FeePlanInvalidError(name, f"must not be negative, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class FeeRule:
    """One method's fee: flat + rate_ppm of the gross, clamped to [minimum, maximum]."""

    flat: int = 0
    rate_ppm: int = 0
    minimum: int = 0
    maximum: int | None = None
    free_up_to: int = 0
    payer_pays: bool = False
    # The refund fee policy of the methods this rule prices; None: the plan's.
    refund_fee: str | None = None

    def __post_init__(self) -> None:
        if self.refund_fee is not None:
            check_refund_fee(self.refund_fee)
        for name in _RULE_INTS:
            _whole(getattr(self, name), name)
        if self.rate_ppm > PPM:
            raise FeePlanInvalidError("rate_ppm", f"{self.rate_ppm} ppm is above 100%")
        if self.maximum is not None and _whole(self.maximum, "maximum") < self.minimum:
            raise FeePlanInvalidError(
                "maximum", f"{self.maximum} is below the minimum {self.minimum}"
            )
        if not isinstance(self.payer_pays, bool):
            raise FeePlanInvalidError(
                "payer_pays", f"must be true or false, not {self.payer_pays!r}"
            )
        if self.payer_pays and self.rate_ppm == PPM:
            # The payer would have to pay an unbounded amount for the merchant to get anything.
            raise FeePlanInvalidError("payer_pays", "a 100% rate cannot be passed on to the payer")

    def fee(self, gross: int) -> int:
        """The fee in minor units on a gross of ``gross`` minor units."""
        if gross <= self.free_up_to:
            return 0
        fee = self.flat + (gross * self.rate_ppm + PPM // 2) // PPM
        fee = max(fee, self.minimum)
        if self.maximum is not None:
            fee = min(fee, self.maximum)
        return max(0, min(fee, gross))

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain JSON-able values (``refund_fee`` only when the rule sets one)."""
        data: dict[str, Any] = {
            "flat": self.flat,
            "rate_ppm": self.rate_ppm,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "free_up_to": self.free_up_to,
            "payer_pays": self.payer_pays,
        }
        if self.refund_fee is not None:
            data["refund_fee"] = self.refund_fee
        return data

    @classmethod
    def from_dict(cls, data: object, path: str = "rule") -> FeeRule:
        """Rebuild a rule from ``to_dict`` output; errors name the dotted path of the field."""
        if not isinstance(data, Mapping):
            raise FeePlanInvalidError(path, "must be an object")
        unknown = set(data) - {*_RULE_INTS, "maximum", "payer_pays", "refund_fee"}
        if unknown:
            raise FeePlanInvalidError(path, f"unknown keys {sorted(unknown)}")
        try:
            return cls(**data)
        except FeePlanInvalidError as error:
            raise FeePlanInvalidError(f"{path}.{error.field}", error.reason) from None


def _family_itself(key: str) -> str | None:
    return key if key in FAMILIES else None


def _family_of_method(key: str) -> str | None:
    return method_family(key) if key in PAYMENT_METHODS else None


def _frozen_rules(
    rules: Mapping[str, FeeRule], family_of: Callable[[str], str | None], path: str, what: str
) -> Mapping[str, FeeRule]:
    for key, rule in rules.items():
        family = family_of(key)
        if family is None:
            raise FeePlanInvalidError(f"{path}.{key}", f"{key!r} is not a payment method {what}")
        if not isinstance(rule, FeeRule):
            raise FeePlanInvalidError(f"{path}.{key}", "must be a FeeRule")
        if rule.payer_pays and family in NEVER_PAYER_PAYS:
            raise FeePlanInvalidError(
                f"{path}.{key}.payer_pays", "a QRIS fee is never surcharged to the payer"
            )
    return MappingProxyType(dict(rules))


@dataclass(frozen=True)
class FeePlan:
    """A named set of fee rules: one per method family, optionally overridden per method."""

    name: str
    families: Mapping[str, FeeRule]
    methods: Mapping[str, FeeRule] = field(default_factory=dict)
    currency: str = "IDR"
    # What a refund does to the fee, for every method whose rule does not say.
    refund_fee: str = FEE_KEPT

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise FeePlanInvalidError("name", "must be a non-empty string")
        check_currency(self.currency)
        check_refund_fee(self.refund_fee)
        # Frozen copies: a caller's dict changing later must not change a recorded plan.
        families = _frozen_rules(self.families, _family_itself, "families", "family")
        object.__setattr__(self, "families", families)
        methods = _frozen_rules(self.methods, _family_of_method, "methods", "code")
        object.__setattr__(self, "methods", methods)

    def rule_for(self, method: str) -> FeeRule:
        """The rule that applies to ``method``: its override, else its family's rule."""
        check_method(method)
        rule = self.methods.get(method) or self.families.get(method_family(method))
        if rule is None:
            raise FeeRuleMissingError("method", f"plan {self.name!r} has no fee for {method!r}")
        return rule

    def refund_fee_for(self, method: str) -> str:
        """What a refund of a ``method`` payment does to its fee: ``kept`` or ``returned``.

        The rule that prices the method decides when it says (a method's override
        replaces its family's rule whole, as for the fee), else the plan. A method the
        plan has no rule for follows the plan.
        """
        check_method(method)
        rule = self.methods.get(method) or self.families.get(method_family(method))
        if rule is not None and rule.refund_fee is not None:
            return rule.refund_fee
        return self.refund_fee

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-able values, for events."""
        return {
            "name": self.name,
            "currency": self.currency,
            "refund_fee": self.refund_fee,
            "families": {key: rule.to_dict() for key, rule in sorted(self.families.items())},
            "methods": {key: rule.to_dict() for key, rule in sorted(self.methods.items())},
        }

    @classmethod
    def from_dict(cls, data: object) -> FeePlan:
        """Rebuild a plan from ``to_dict`` output, validating every field."""
        if not isinstance(data, Mapping):
            raise FeePlanInvalidError("plan", "must be an object")
        unknown = set(data) - set(_PLAN_KEYS)
        if unknown:
            # A misspelt "families" would otherwise be a plan without a single rule.
            raise FeePlanInvalidError(
                "plan", f"unknown keys {sorted(map(str, unknown))} (known: {', '.join(_PLAN_KEYS)})"
            )
        groups: dict[str, dict[str, FeeRule]] = {}
        for group in ("families", "methods"):
            raw = data.get(group, {})
            if not isinstance(raw, Mapping):
                raise FeePlanInvalidError(group, "must be an object")
            groups[group] = {
                str(key): FeeRule.from_dict(value, f"{group}.{key}") for key, value in raw.items()
            }
        return cls(
            name=data.get("name"),  # type: ignore[arg-type]  # validated in __post_init__
            families=groups["families"],
            methods=groups["methods"],
            currency=data.get("currency", "IDR"),
            # Plans stored before refunds had a fee policy kept the fee: the default.
            refund_fee=data.get("refund_fee", FEE_KEPT),
        )


def _check_amount(plan: FeePlan, amount: Money, name: str) -> None:
    if amount.currency != plan.currency:
        raise CurrencyMismatchError(
            f"plan {plan.name!r} is in {plan.currency}, not {amount.currency}", field=name
        )
    if amount.amount < 0:
        raise AmountInvalidError(name, f"must not be negative, got {amount.amount}")


def fee_for(plan: FeePlan, method: str, gross: Money) -> Money:
    """The fee ``plan`` charges on a payment of ``gross`` by ``method`` (rounding: see module)."""
    _check_amount(plan, gross, "gross")
    return Money(plan.rule_for(method).fee(gross.amount), gross.currency)


def fee_at_verification(plan: FeePlan, method: str, gross: Money) -> Money:
    """The fee a payment of ``gross`` by ``method`` is priced at when it is verified.

    The plan's fee (:func:`fee_for`). Never a zero fee for money in a currency the plan
    does not price: that is an error naming the currency (a payment only starts when the
    merchant's plan prices it; one verified after its plan changed currency stays
    received, unverified, until a plan for its currency is set). The application prices
    every verification with it, and the what-if of another plan re-prices history with it.
    """
    if gross.currency != plan.currency:
        raise FeeRuleMissingError(
            "currency",
            f"the fee plan prices {plan.currency}, not {gross.currency}; "
            f"set a plan for {gross.currency} to price this payment",
        )
    return fee_for(plan, method, gross)


def fee_share_returned(fee: Money, gross: Money, refunded_before: Money, refund: Money) -> Money:
    """The part of ``fee`` a refund gives back under the ``returned`` policy.

    ``gross`` is what the fee was priced on, ``refunded_before`` what earlier refunds
    of it returned. Shares are cumulative — the fee on everything refunded so far,
    rounded half up, less the fee on what was refunded before — so partial refunds
    never round the merchant out of a rupiah: refunds that add up to the gross return
    exactly the fee, and no share is more than its refund.
    """
    if gross.amount <= 0 or refund.amount <= 0:
        return Money.zero(fee.currency)

    def share(refunded: int) -> int:
        return (2 * fee.amount * refunded + gross.amount) // (2 * gross.amount)

    after = min(refunded_before.amount + refund.amount, gross.amount)
    before = min(refunded_before.amount, gross.amount)
    return Money(max(0, share(after) - share(before)), fee.currency)


def amount_with_fee_on_customer(plan: FeePlan, method: str, base: Money) -> Money:
    """What the payer is asked for so the merchant nets at least ``base`` after the fee.

    When the merchant bears the fee this is ``base`` itself. When the payer does, it is the
    smallest gross G with ``G - fee(G) >= base``: the merchant never gets less than the
    base, and one rupiah less would leave the merchant short. Above ``free_up_to``,
    ``G - fee(G)`` never decreases (the fee grows at most one unit per unit of gross),
    so a binary search over integers finds G exactly.
    """
    _check_amount(plan, base, "base")
    rule = plan.rule_for(method)
    if not rule.payer_pays or base.amount <= rule.free_up_to:
        return base
    # At this gross the fee is at most max(minimum, flat + percent + 1/2) and net >= base.
    high = max(
        base.amount + rule.minimum,
        -(-(base.amount + rule.flat + 1) * PPM // (PPM - rule.rate_ppm)),
    )
    low = max(base.amount, rule.free_up_to + 1)
    while low < high:
        middle = (low + high) // 2
        if middle - rule.fee(middle) >= base.amount:
            high = middle
        else:
            low = middle + 1
    return Money(low, base.currency)


DEFAULT_PLAN: Final = FeePlan(
    name="default",
    families={
        "virtual_account": FeeRule(flat=4_000),
        "qris": FeeRule(rate_ppm=7_000),
        # E-wallets list 1.5%-2%: the plan starts at the low end; merchants can be re-priced.
        "ewallet": FeeRule(rate_ppm=15_000),
        "card": FeeRule(flat=2_000, rate_ppm=29_000),
        "retail": FeeRule(flat=5_000),
    },
)

QRIS_MICRO_MERCHANT_PLAN: Final = FeePlan(
    name="qris-micro-merchant",
    families={
        **DEFAULT_PLAN.families,
        "qris": FeeRule(rate_ppm=3_000, free_up_to=100_000),
    },
)

"""Fee plans charge exact integer fees, round one documented way, and validate loudly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylink_es.domain.errors import (
    AmountInvalidError,
    CurrencyMismatchError,
    PaymentMethodUnknownError,
)
from paylink_es.domain.fees import (
    DEFAULT_PLAN,
    QRIS_MICRO_MERCHANT_PLAN,
    FeePlan,
    FeePlanInvalidError,
    FeeRule,
    FeeRuleMissingError,
    amount_with_fee_on_customer,
    fee_at_verification,
    fee_for,
)
from paylink_es.domain.methods import PAYMENT_METHODS
from paylink_es.domain.money import MAX_MINOR_UNITS, Money


def idr(amount: int) -> Money:
    return Money(amount, "IDR")


def plan_with(family: str, rule: FeeRule) -> FeePlan:
    return FeePlan(name="test", families={family: rule})


grosses = st.integers(min_value=0, max_value=MAX_MINOR_UNITS)


def fee_rules(
    max_rate_ppm: int = 1_000_000, payer_pays: bool = False
) -> st.SearchStrategy[FeeRule]:
    """Fee rules of every part, the rate up to ``max_rate_ppm``."""
    return st.builds(
        FeeRule,
        flat=st.integers(0, 50_000),
        rate_ppm=st.integers(0, max_rate_ppm),
        minimum=st.integers(0, 10_000),
        maximum=st.none() | st.integers(10_000, 1_000_000),
        free_up_to=st.integers(0, 200_000),
        payer_pays=st.just(payer_pays),
    )


rules = fee_rules()
payer_rules = fee_rules(max_rate_ppm=999_999, payer_pays=True)  # a rate below 100%


@pytest.mark.parametrize(
    ("method", "gross", "fee"),
    [
        ("va_bca", 150_000, 4_000),
        ("qris", 150_000, 1_050),
        ("ewallet_ovo", 150_000, 2_250),
        ("card", 150_000, 4_350 + 2_000),
        ("retail_alfamart", 150_000, 5_000),
    ],
)
def test_default_plan_charges_the_channel_price_list(method: str, gross: int, fee: int) -> None:
    assert fee_for(DEFAULT_PLAN, method, idr(gross)) == idr(fee)


@pytest.mark.parametrize(
    ("gross", "fee"),
    [
        (10_001, 70),  # 70.007 rounds down
        (500, 4),  # 3.5 rounds half up
        (499, 3),  # 3.493 rounds down
        (72, 1),  # 0.504 rounds up
        (71, 0),  # 0.497 rounds down
    ],
)
def test_qris_percent_rounds_half_up_to_the_whole_rupiah(gross: int, fee: int) -> None:
    assert fee_for(DEFAULT_PLAN, "qris", idr(gross)) == idr(fee)


def test_qris_micro_merchants_pay_nothing_up_to_100k_and_point_three_percent_above() -> None:
    assert fee_for(QRIS_MICRO_MERCHANT_PLAN, "qris", idr(100_000)).is_zero
    assert fee_for(QRIS_MICRO_MERCHANT_PLAN, "qris", idr(100_001)) == idr(300)
    assert fee_for(QRIS_MICRO_MERCHANT_PLAN, "qris", idr(1_000_000)) == idr(3_000)
    assert fee_for(QRIS_MICRO_MERCHANT_PLAN, "va_bni", idr(1_000_000)) == idr(4_000)


def test_a_flat_fee_is_never_more_than_the_payment() -> None:
    assert fee_for(DEFAULT_PLAN, "retail_indomaret", idr(3_000)) == idr(3_000)
    assert fee_for(DEFAULT_PLAN, "va_bca", idr(0)).is_zero


def test_minimum_and_maximum_clamp_the_fee() -> None:
    plan = plan_with("ewallet", FeeRule(rate_ppm=20_000, minimum=1_000, maximum=50_000))
    assert fee_for(plan, "ewallet_dana", idr(10_000)) == idr(1_000)
    assert fee_for(plan, "ewallet_dana", idr(1_000_000)) == idr(20_000)
    assert fee_for(plan, "ewallet_dana", idr(10_000_000)) == idr(50_000)


def test_a_method_override_beats_its_family_rule() -> None:
    plan = FeePlan(
        name="bca-cheaper",
        families={"virtual_account": FeeRule(flat=4_000)},
        methods={"va_bca": FeeRule(flat=2_500)},
    )
    assert fee_for(plan, "va_bca", idr(50_000)) == idr(2_500)
    assert fee_for(plan, "va_bri", idr(50_000)) == idr(4_000)


def test_a_method_the_plan_does_not_price_is_refused_by_name() -> None:
    plan = plan_with("virtual_account", FeeRule(flat=4_000))
    with pytest.raises(FeeRuleMissingError, match="qris"):
        fee_for(plan, "qris", idr(10_000))
    with pytest.raises(PaymentMethodUnknownError):
        fee_for(DEFAULT_PLAN, "bitcoin", idr(10_000))


def test_a_gross_in_another_currency_or_below_zero_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        fee_for(DEFAULT_PLAN, "card", Money(1_000, "USD"))
    with pytest.raises(AmountInvalidError):
        fee_for(DEFAULT_PLAN, "card", idr(-1))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"flat": -1}, "flat"),
        ({"rate_ppm": 1_000_001}, "rate_ppm"),
        ({"rate_ppm": 0.007}, "rate_ppm"),
        ({"minimum": 5_000, "maximum": 4_999}, "maximum"),
        ({"flat": True}, "flat"),
        ({"free_up_to": -100}, "free_up_to"),
        ({"rate_ppm": 1_000_000, "payer_pays": True}, "payer_pays"),
    ],
)
def test_an_impossible_rule_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FeePlanInvalidError) as raised:
        FeeRule(**fields)
    assert raised.value.field == field


def test_a_qris_fee_is_never_put_on_the_payer() -> None:
    with pytest.raises(FeePlanInvalidError) as raised:
        plan_with("qris", FeeRule(rate_ppm=7_000, payer_pays=True))
    assert raised.value.field == "families.qris.payer_pays"
    with pytest.raises(FeePlanInvalidError) as raised:
        FeePlan(
            name="sneaky",
            families={"qris": FeeRule(rate_ppm=7_000)},
            methods={"qris": FeeRule(rate_ppm=7_000, payer_pays=True)},
        )
    assert raised.value.field == "methods.qris.payer_pays"


def test_unknown_families_and_methods_in_a_plan_are_refused() -> None:
    with pytest.raises(FeePlanInvalidError, match=r"families\.crypto"):
        plan_with("crypto", FeeRule())
    with pytest.raises(FeePlanInvalidError, match=r"methods\.va_xyz"):
        FeePlan(name="x", families={}, methods={"va_xyz": FeeRule()})


def test_a_plan_survives_a_json_round_trip_exactly() -> None:
    for plan in (DEFAULT_PLAN, QRIS_MICRO_MERCHANT_PLAN):
        data = json.loads(json.dumps(plan.to_dict()))
        assert FeePlan.from_dict(data) == plan
        assert FeePlan.from_dict(data).to_dict() == plan.to_dict()


def test_a_stored_plan_with_a_bad_field_names_its_path() -> None:
    data = DEFAULT_PLAN.to_dict()
    data["families"]["card"]["rate_ppm"] = -5
    with pytest.raises(FeePlanInvalidError) as raised:
        FeePlan.from_dict(data)
    assert raised.value.field == "families.card.rate_ppm"
    data["families"]["card"] = {"rate_bps": 290}
    with pytest.raises(FeePlanInvalidError, match="rate_bps"):
        FeePlan.from_dict(data)


def test_a_plan_with_a_misspelt_key_is_refused_not_read_as_a_plan_without_rules() -> None:
    data = DEFAULT_PLAN.to_dict()
    data["famillies"] = data.pop("families")
    with pytest.raises(FeePlanInvalidError, match="famillies") as raised:
        FeePlan.from_dict(data)
    assert raised.value.field == "plan"


def test_a_verification_is_priced_by_the_plan_never_at_zero_in_another_currency() -> None:
    assert fee_at_verification(DEFAULT_PLAN, "qris", idr(10_001)) == idr(70)
    assert fee_at_verification(DEFAULT_PLAN, "va_bca", idr(50_000)) == idr(4_000)
    with pytest.raises(FeeRuleMissingError) as refused:
        fee_at_verification(DEFAULT_PLAN, "qris", Money(10_000, "USD"))
    assert refused.value.field == "currency"
    assert "prices IDR, not USD" in refused.value.message


def test_changing_the_dict_a_plan_was_built_from_does_not_change_the_plan() -> None:
    families = {"virtual_account": FeeRule(flat=4_000)}
    plan = FeePlan(name="mine", families=families)
    families["virtual_account"] = FeeRule(flat=1)
    assert fee_for(plan, "va_bca", idr(50_000)) == idr(4_000)


def test_the_payer_is_asked_for_the_base_plus_a_flat_fee() -> None:
    plan = plan_with("virtual_account", FeeRule(flat=4_000, payer_pays=True))
    assert amount_with_fee_on_customer(plan, "va_bca", idr(100_000)) == idr(104_000)


def test_the_payer_pays_a_grossed_up_percent_fee() -> None:
    plan = plan_with("card", FeeRule(flat=2_000, rate_ppm=29_000, payer_pays=True))
    charged = amount_with_fee_on_customer(plan, "card", idr(100_000))
    # 2.9% of 105,046 is 3,046.33, rounded to 3,046: the merchant nets exactly 100,000.
    assert charged == idr(105_046)
    assert charged - fee_for(plan, "card", charged) == idr(100_000)
    one_less = charged - idr(1)
    assert one_less - fee_for(plan, "card", one_less) == idr(99_999)


def test_when_the_merchant_bears_the_fee_the_payer_is_asked_for_the_base() -> None:
    assert amount_with_fee_on_customer(DEFAULT_PLAN, "card", idr(100_000)) == idr(100_000)


@given(rule=rules, gross=grosses, method=st.sampled_from(sorted(PAYMENT_METHODS)))
def test_a_fee_is_a_whole_amount_between_zero_and_the_gross(
    rule: FeeRule, gross: int, method: str
) -> None:
    plan = FeePlan(name="any", families={}, methods={method: rule})
    fee = fee_for(plan, method, idr(gross))
    assert type(fee.amount) is int
    assert 0 <= fee.amount <= gross


@given(rate_ppm=st.integers(0, 1_000_000), flat=st.integers(0, 10_000), a=grosses, b=grosses)
def test_a_percent_fee_never_falls_as_the_gross_grows(
    rate_ppm: int, flat: int, a: int, b: int
) -> None:
    plan = plan_with("ewallet", FeeRule(flat=flat, rate_ppm=rate_ppm))
    low, high = sorted((a, b))
    assert fee_for(plan, "ewallet_ovo", idr(low)) <= fee_for(plan, "ewallet_ovo", idr(high))


@given(rate_ppm=st.integers(0, 1_000_000), gross=grosses)
def test_the_percent_part_is_the_exact_rational_rounded_half_up(rate_ppm: int, gross: int) -> None:
    fee = plan_with("ewallet", FeeRule(rate_ppm=rate_ppm)).families["ewallet"].fee(gross)
    exact_times_two = 2 * gross * rate_ppm  # twice the exact fee, in millionths
    # |fee - exact| <= 1/2, and an exact half goes up.
    assert -1_000_000 < 2 * fee * 1_000_000 - exact_times_two <= 1_000_000


@given(rule=payer_rules, base=st.integers(1, 10**11))
def test_payer_pays_leaves_the_merchant_the_base_and_overcharges_by_at_most_one_rupiah(
    rule: FeeRule, base: int
) -> None:
    plan = plan_with("card", rule)
    charged = amount_with_fee_on_customer(plan, "card", idr(base)).amount
    assert charged - rule.fee(charged) >= base
    assert charged == base or charged - 1 - rule.fee(charged - 1) < base

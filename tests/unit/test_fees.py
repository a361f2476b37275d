"""Fee plans charge exact integer fees, round one documented way, and validate loudly."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

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
    fee_share_returned,
)
from paylink_es.domain.merchant import Merchant
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


# -- what a refund does to the fee -----------------------------------------------------


def test_a_plan_keeps_the_fee_on_refunds_unless_it_says_otherwise() -> None:
    assert DEFAULT_PLAN.refund_fee == "kept"
    assert DEFAULT_PLAN.to_dict()["refund_fee"] == "kept"
    assert DEFAULT_PLAN.refund_fee_for("card") == "kept"
    plan = FeePlan(
        name="generous",
        refund_fee="returned",
        families={
            "card": FeeRule(flat=2_000, rate_ppm=29_000),
            "qris": FeeRule(rate_ppm=7_000, refund_fee="kept"),
        },
        methods={"qris": FeeRule(rate_ppm=5_000)},  # replaces the family's rule whole
    )
    assert plan.refund_fee_for("card") == "returned"  # the plan's
    assert plan.refund_fee_for("qris") == "returned"  # the method's rule says nothing
    assert plan.refund_fee_for("va_bca") == "returned"  # no rule at all: the plan's
    family = FeePlan(name="f", families={"qris": FeeRule(rate_ppm=7_000, refund_fee="returned")})
    assert (family.refund_fee_for("qris"), family.refund_fee_for("card")) == ("returned", "kept")


def test_the_refund_fee_policy_survives_a_json_round_trip_and_rules_without_one_omit_it() -> None:
    plan = FeePlan(
        name="mixed",
        refund_fee="returned",
        families={"card": FeeRule(flat=2_000), "ewallet": FeeRule(rate_ppm=15_000)},
        methods={"ewallet_ovo": FeeRule(rate_ppm=15_000, refund_fee="kept")},
    )
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["refund_fee"] == "returned"
    assert "refund_fee" not in data["families"]["card"]
    assert data["methods"]["ewallet_ovo"]["refund_fee"] == "kept"
    assert FeePlan.from_dict(data) == plan
    assert FeePlan.from_dict(data).to_dict() == data


def test_a_plan_stored_before_refund_fees_existed_loads_and_keeps_the_fee() -> None:
    stored = DEFAULT_PLAN.to_dict()
    del stored["refund_fee"]
    assert FeePlan.from_dict(stored) == DEFAULT_PLAN
    assert FeePlan.from_dict(stored).refund_fee_for("ewallet_dana") == "kept"


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("plan", "refunded", "refund_fee"),
        ("plan", None, "refund_fee"),
        ("plan", True, "refund_fee"),
        ("rule", "keep", "families.card.refund_fee"),
        ("rule", 1, "families.card.refund_fee"),
    ],
)
def test_a_bad_refund_fee_policy_is_refused_naming_its_field(
    where: str, value: object, field: str
) -> None:
    data = DEFAULT_PLAN.to_dict()
    if where == "plan":
        data["refund_fee"] = value
    else:
        data["families"]["card"]["refund_fee"] = value
    with pytest.raises(FeePlanInvalidError) as refused:
        FeePlan.from_dict(data)
    assert refused.value.field == field
    assert "'kept' or 'returned'" in refused.value.message


def test_a_returned_fee_is_shared_out_in_proportion_half_up() -> None:
    fee, gross = idr(4_000), idr(104_000)
    assert fee_share_returned(fee, gross, idr(0), gross) == fee  # a full refund: all of it
    assert fee_share_returned(fee, gross, idr(0), idr(52_000)) == idr(2_000)
    # 4,000 x 13/104,000 = 0.5: half goes up; the next rupiah's share is then nothing.
    assert fee_share_returned(fee, gross, idr(0), idr(13)) == idr(1)
    assert fee_share_returned(fee, gross, idr(13), idr(13)) == idr(0)
    assert fee_share_returned(fee, gross, idr(0), idr(0)) == idr(0)
    assert fee_share_returned(idr(0), gross, idr(0), gross) == idr(0)


@given(gross=st.integers(1, 10**9), data=st.data())
def test_partial_refunds_of_the_whole_gross_return_exactly_the_fee(
    gross: int, data: st.DataObject
) -> None:
    fee = data.draw(st.integers(0, gross), label="fee")
    cuts = data.draw(st.lists(st.integers(0, gross), max_size=6), label="refunded so far")
    points = sorted({0, gross, *cuts})
    returned = before = 0
    for refunded in points[1:]:
        part = refunded - before
        share = fee_share_returned(idr(fee), idr(gross), idr(before), idr(part)).amount
        assert 0 <= share <= part
        returned += share
        before = refunded
    assert returned == fee


def test_setting_again_a_plan_stored_before_refund_fees_existed_records_nothing() -> None:
    merchant = Merchant(id=uuid4(), name="Toko Lama", email=None)
    stored = DEFAULT_PLAN.to_dict()
    del stored["refund_fee"]
    merchant._fee_plan_set(plan=stored)  # as an event stored before the key existed
    merchant.collect_events()
    merchant.set_fee_plan(DEFAULT_PLAN.to_dict())
    assert merchant.collect_events() == []
    merchant.set_fee_plan({**DEFAULT_PLAN.to_dict(), "refund_fee": "returned"})
    [changed] = merchant.collect_events()
    assert merchant.fee_plan().refund_fee == "returned"
    assert type(changed).__qualname__ == "Merchant.FeePlanSet"

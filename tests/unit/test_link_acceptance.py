"""Which methods a link can accept: currency, each method's minimum, and its fee."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import MethodUnavailableError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan, FeeRule
from paylink_es.domain.methods import DEFAULT_METHODS, minimum_for
from tests.unit.conftest import Refused


def test_a_named_method_that_does_not_take_the_currency_is_refused_naming_it(
    new_link: Callable[..., UUID], refused: Refused
) -> None:
    error = refused(
        MethodUnavailableError, lambda: new_link(currency="USD", amount=5_000, methods=["va_bca"])
    )
    assert error.field == "methods[0]"
    assert "va_bca" in error.message
    assert "IDR only" in error.message


def test_a_plan_that_cannot_price_the_currency_refuses_the_link_never_a_zero_fee(
    new_link: Callable[..., UUID], refused: Refused
) -> None:
    error = refused(
        MethodUnavailableError, lambda: new_link(currency="USD", amount=5_000, methods=["card"])
    )
    assert "fee plan prices IDR, not USD" in error.message


def test_with_a_plan_in_its_currency_a_foreign_link_is_offered_by_card_only(
    memory_app: Paylink, merchant_id: UUID, new_link: Callable[..., UUID]
) -> None:
    usd = FeePlan(name="usd", families=dict(DEFAULT_PLAN.families), currency="USD")
    memory_app.merchants.set_fee_plan(merchant_id, usd)
    link = memory_app.links.get(new_link(currency="USD", amount=5_000, methods=None))
    assert link.methods == ["card"]


def test_unnamed_methods_are_narrowed_to_those_that_can_take_the_amount(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link = memory_app.links.get(new_link(amount=5_000, methods=None))
    # Virtual accounts and retail codes start at Rp 10,000: they are not offered.
    assert link.methods == [
        method for method in DEFAULT_METHODS if not method.startswith(("va_", "retail_"))
    ]


def test_a_named_method_whose_minimum_is_above_the_amount_is_refused_naming_it(
    new_link: Callable[..., UUID], refused: Refused
) -> None:
    error = refused(
        MethodUnavailableError, lambda: new_link(amount=5_000, methods=["qris", "va_bca"])
    )
    assert error.field == "methods[1]"
    assert "at least IDR 10000" in error.message


def test_an_amount_that_cannot_cover_the_fee_refuses_the_method(
    memory_app: Paylink, merchant_id: UUID, new_link: Callable[..., UUID]
) -> None:
    costly = FeePlan(name="costly", families={**DEFAULT_PLAN.families, "qris": FeeRule(flat=2_000)})
    memory_app.merchants.set_fee_plan(merchant_id, costly)
    with pytest.raises(MethodUnavailableError) as refused:
        new_link(amount=2_000, methods=["qris"])
    assert "cannot cover the fee of QRIS (qris)" in refused.value.message
    assert memory_app.links.get(new_link(amount=2_001, methods=["qris"])).methods == ["qris"]


def test_a_payer_bringing_less_than_the_methods_minimum_is_refused_and_nothing_stored(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link = new_link(amount=None, amount_min=1_000, methods=["qris", "va_bca"])
    error = refused(
        MethodUnavailableError, lambda: memory_app.payments.start(link, "va_bca", amount=5_000)
    )
    assert error.field == "amount"
    assert "va_bca" in error.message
    memory_app.payments.start(link, "va_bca", amount=10_000)


def test_the_minimums_are_configurable_by_method_or_family(
    clock: FakeClock, link_request: dict[str, Any]
) -> None:
    with Paylink.open(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=clock,
        method_minimums={"qris": 10_000, "ewallet": 20_000},
    ) as paylink:
        shop = paylink.merchants.register("Toko Mahal")
        with pytest.raises(MethodUnavailableError) as refused:
            paylink.links.create(shop, **{**link_request, "amount": 5_000, "methods": ["qris"]})
        assert "at least IDR 10000" in refused.value.message
        offered = paylink.links.get(paylink.links.create(shop, **{**link_request, "methods": None}))
        assert offered.methods == list(DEFAULT_METHODS)  # Rp 150,000 fits every minimum
    assert minimum_for("ewallet_ovo", "IDR", {"ewallet": 20_000}) == 20_000
    assert minimum_for("ewallet_ovo", "IDR", {"ewallet_ovo": 300, "ewallet": 20_000}) == 300
    assert minimum_for("card", "USD") == 50

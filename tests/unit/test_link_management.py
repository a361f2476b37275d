"""Editing, deactivating, reactivating and duplicating a link: what each may do, and that a
refused command stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from uuid import UUID

import pytest

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import (
    InvalidFieldError,
    LinkClosedError,
    LinkHasPaymentsError,
    LinkNotPayableError,
    TextInvalidError,
    TransitionInvalidError,
)
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.money import Money
from tests.unit.conftest import Refused

BY = "key-1"


def _link(app: Paylink, link_id: UUID) -> PaymentLink:
    link: object = app.app.repository.get(link_id)
    assert isinstance(link, PaymentLink)
    return link


def test_an_edit_records_the_changed_fields_what_they_were_and_the_full_terms(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()

    details, changed = memory_app.links.edit(
        link_id, BY, description="Kaos hitam", amount_min=20_000, amount_max=90_000
    )

    assert changed == ["description", "amount", "amount_min", "amount_max"]
    assert (details.amount, details.amount_min, details.amount_max) == (None, 20_000, 90_000)
    edited = _link(memory_app, link_id)
    assert edited.description == "Kaos hitam"
    (event,) = [
        e
        for e in memory_app.app.repository.event_store.get(link_id)
        if type(e).__qualname__ == "PaymentLink.Edited"
    ]
    state = vars(event)
    assert state["by"] == BY
    assert state["previous"] == {
        "description": "Kaos polos hitam",
        "amount": 150_000,
        "amount_min": None,
        "amount_max": None,
    }
    assert state["methods"] == ["va_bca", "qris"]  # every term, the unchanged ones too
    assert state["reference_id"] is None


def test_an_edit_that_changes_nothing_or_names_nothing_stores_nothing(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    stored_count: Callable[[], int],
    refused: Refused,
) -> None:
    link_id = new_link()
    before = stored_count()
    assert memory_app.links.edit(link_id, BY, description="Kaos polos hitam")[1] == []
    assert stored_count() == before

    assert refused(InvalidFieldError, lambda: memory_app.links.edit(link_id, BY)).field == "body"
    unknown = refused(InvalidFieldError, lambda: memory_app.links.edit(link_id, BY, usage_limit=5))
    assert unknown.field == "usage_limit"
    refused(TextInvalidError, lambda: memory_app.links.edit(link_id, "", description="Kaos"))


def test_a_link_with_payments_keeps_what_they_paid_for(
    memory_app: Paylink, new_link: Callable[..., UUID], refused: Refused
) -> None:
    link_id = new_link(usage_limit=None)
    payment = memory_app.payments.start(link_id, "qris")
    memory_app.payments.record(payment, "ch-1", Money(150_000, "IDR"), memory_app.now())
    memory_app.payments.verify(payment)

    for change, field in (
        ({"amount": 1}, "amount"),
        ({"amount_min": 10_000}, "amount"),  # a fixed amount would become a range
        ({"currency": "USD"}, "currency"),
    ):
        edit = partial(memory_app.links.edit, link_id, BY, **change)
        assert refused(LinkHasPaymentsError, edit).field == field
    _, changed = memory_app.links.edit(link_id, BY, description="Kaos v2", methods=["qris"])
    assert changed == ["description", "methods"]


@pytest.mark.parametrize("how", ["cancelled", "expired", "completed"])
def test_a_closed_link_cannot_be_edited_deactivated_or_reactivated(
    memory_app: Paylink,
    new_link: Callable[..., UUID],
    refused: Refused,
    clock: FakeClock,
    how: str,
) -> None:
    link_id = new_link()
    if how == "cancelled":
        memory_app.links.cancel(link_id)
    elif how == "expired":
        clock.advance(timedelta(days=2))  # past its expiry, recorded or not
    else:
        payment = memory_app.payments.start(link_id, "qris")
        memory_app.payments.record(payment, "ch-1", Money(150_000, "IDR"), memory_app.now())
        memory_app.payments.verify(payment)

    for command in (
        lambda: memory_app.links.edit(link_id, BY, description="Baru"),
        lambda: memory_app.links.deactivate(link_id, None, BY),
        lambda: memory_app.links.reactivate(link_id, BY),
    ):
        assert how in refused(LinkClosedError, command).message


def test_an_inactive_link_takes_no_new_payment_until_reactivated(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    memory_app.links.deactivate(link_id, "  Stok habis  ", BY)

    details = memory_app.links.get(link_id)
    assert (details.status, details.inactive_message) == ("inactive", "Stok habis")
    with pytest.raises(LinkNotPayableError) as raised:
        memory_app.payments.start(link_id, "qris")
    assert "inactive" in raised.value.message
    with pytest.raises(TransitionInvalidError):
        memory_app.links.deactivate(link_id, None, BY)

    memory_app.links.reactivate(link_id, BY)
    details = memory_app.links.get(link_id)
    assert (details.status, details.inactive_message) == ("active", None)
    memory_app.payments.start(link_id, "qris")
    with pytest.raises(TransitionInvalidError):
        memory_app.links.reactivate(link_id, BY)


def test_money_already_on_its_way_still_counts_on_an_inactive_link(
    memory_app: Paylink, new_link: Callable[..., UUID]
) -> None:
    link_id = new_link()
    payment = memory_app.payments.start(link_id, "qris")
    memory_app.links.deactivate(link_id, None, BY)

    outcome = memory_app.payments.record(payment, "ch-1", Money(150_000, "IDR"), memory_app.now())
    memory_app.payments.verify(payment)

    assert outcome.anomaly is None
    assert memory_app.links.get(link_id).status == "completed"  # its one use was taken


def test_an_inactive_link_expires_and_can_be_cancelled(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    expiring, cancelling = new_link(), new_link()
    for link_id in (expiring, cancelling):
        memory_app.links.deactivate(link_id, None, BY)

    memory_app.links.cancel(cancelling, "tidak jadi", by=BY)
    assert memory_app.links.get(cancelling).status == "cancelled"
    assert memory_app.links.expire(expiring) is False
    clock.advance(timedelta(days=1))
    assert memory_app.links.get(expiring).status == "expired"
    assert memory_app.links.expire(expiring) is True
    assert _link(memory_app, expiring).status == "expired"


def test_a_duplicate_keeps_the_terms_and_the_duration_but_not_the_reference_or_slug(
    memory_app: Paylink, new_link: Callable[..., UUID], clock: FakeClock
) -> None:
    link_id = new_link(
        reference_id="INV-1",
        slug="kaos-hitam",
        line_items=[{"name": "Kaos", "quantity": 2, "unit_amount": 75_000}],
        metadata={"order": "1"},
    )
    original = memory_app.links.get(link_id)
    assert original.expires_at is not None
    memory_app.links.cancel(link_id)
    clock.advance(timedelta(hours=5))

    copy = memory_app.links.duplicate(link_id, BY)

    assert copy.id != link_id
    assert (copy.status, copy.reference_id, copy.slug) == ("active", None, None)
    assert copy.expires_at == clock() + (original.expires_at - original.created_at)
    for name in ("description", "amount", "currency", "methods", "line_items", "metadata"):
        assert getattr(copy, name) == getattr(original, name), name
    created = next(iter(memory_app.app.repository.event_store.get(copy.id)))
    assert (vars(created)["by"], vars(created)["duplicate_of"]) == (BY, link_id)

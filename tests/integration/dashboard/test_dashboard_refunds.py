"""Refunds and review decisions from the dashboard's payments, on SQLite and PostgreSQL.

Payments are made through the hosted page and the sandbox channel's signed callbacks;
the refund goes to the same sandbox channel, as it would to the payment's real one.
"""

from __future__ import annotations

import re
from uuid import UUID

import pytest

from paylink_es.application.channel_port import RefundResult
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.domain.money import Money
from tests.support.desk import OTHER_OWNER, VIEWER, Desk, post
from tests.support.shop import Http, csrf_of

ATTEMPT = re.compile(r'name="attempt" value="([0-9a-f]{32})"')


def _paid(desk: Desk, amount: int = 150_000) -> UUID:
    payment = desk.pay(desk.link(amount=amount))
    desk.catch_up()
    return payment


def _count(desk: Desk, event: str) -> int:
    """How many stored events are of ``event`` (``Payment.Refunded``)."""
    return sum(topic.endswith(f":{event}") for topic in desk.shop.topics())


def _form(client: Http, payment: UUID) -> tuple[str, str]:
    """The refund page's CSRF token and attempt id."""
    page = client.get(f"/dashboard/payments/{payment}/refund")
    assert page.status_code == 200, page.text
    attempt = ATTEMPT.search(page.text)
    assert attempt is not None, page.text
    return csrf_of(page.text), attempt.group(1)


def test_an_owner_refunds_part_of_a_payment_then_the_rest_from_the_payments_page(
    desk: Desk,
) -> None:
    owner = desk.signed_in()
    payment = _paid(desk)
    listed = owner.get("/dashboard/payments")
    assert f'href="/dashboard/payments/{payment}/refund"' in listed.text
    page = owner.get(f"/dashboard/payments/{payment}/refund")
    assert "Rp 150.000" in page.text
    csrf, attempt = _form(owner, payment)

    form = {"csrf": csrf, "attempt": attempt, "amount": "50.000", "reason": "ukuran salah"}
    done = owner.post(f"/dashboard/payments/{payment}/refund", data=form, follow_redirects=False)

    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/dashboard/payments?notice=refund_ok"
    assert "Dana dikembalikan." in owner.get(done.headers["location"]).text
    assert desk.shop.paylink.payments.get(payment).refunded == Money(50_000, "IDR")
    rest = owner.get(f"/dashboard/payments/{payment}/refund")
    assert 'data-testid="refund-refundable">Rp 100.000<' in rest.text
    csrf, attempt = _form(owner, payment)
    form = {"csrf": csrf, "attempt": attempt, "amount": "100000", "reason": "batal"}
    assert owner.post(f"/dashboard/payments/{payment}/refund", data=form).status_code == 200
    assert desk.shop.paylink.payments.get(payment).refunded == Money(150_000, "IDR")
    assert 'data-testid="refund-nothing"' in owner.get(f"/dashboard/payments/{payment}/refund").text
    assert (
        f'href="/dashboard/payments/{payment}/refund"' not in owner.get("/dashboard/payments").text
    )


def test_the_same_form_sent_twice_refunds_once(desk: Desk) -> None:
    owner = desk.signed_in()
    payment = _paid(desk)
    csrf, attempt = _form(owner, payment)
    form = {"csrf": csrf, "attempt": attempt, "amount": "40000", "reason": "rusak"}

    first = owner.post(f"/dashboard/payments/{payment}/refund", data=form, follow_redirects=False)
    second = owner.post(f"/dashboard/payments/{payment}/refund", data=form, follow_redirects=False)

    assert (first.status_code, second.status_code) == (303, 303)
    assert desk.shop.paylink.payments.get(payment).refunded == Money(40_000, "IDR")
    assert _count(desk, "Payment.Refunded") == 1


@pytest.mark.parametrize(
    ("amount", "reason", "said"),
    [
        ("lima puluh", "rusak", "Jumlah pengembalian: harus berupa bilangan bulat rupiah"),
        ("50000", "  ", "Alasan: wajib diisi"),
        ("150.001", "rusak", "Pengembalian dana melebihi yang diterima."),
        ("0", "rusak", "Pengembalian dana melebihi yang diterima."),
    ],
)
def test_a_wrong_refund_is_named_in_the_users_language_and_nothing_moves(
    desk: Desk, amount: str, reason: str, said: str
) -> None:
    owner = desk.signed_in()
    payment = _paid(desk)
    before = desk.shop.topics()
    csrf, attempt = _form(owner, payment)

    form = {"csrf": csrf, "attempt": attempt, "amount": amount, "reason": reason}
    refused = owner.post(f"/dashboard/payments/{payment}/refund", data=form)

    assert refused.status_code in (409, 422), refused.text
    assert said in refused.text
    assert f'value="{amount}"' in refused.text, "what was typed is kept"
    assert desk.shop.topics() == before
    assert desk.shop.paylink.payments.get(payment).refunded == Money(0, "IDR")


def test_a_refund_the_channel_refuses_is_said_and_moves_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = desk.signed_in()
    payment = _paid(desk)

    def refuse(self: SandboxChannel, *args: object) -> RefundResult:
        return RefundResult(accepted=False, channel_ref="", detail="rekening pembayar ditutup")

    monkeypatch.setattr(SandboxChannel, "refund", refuse)
    csrf, attempt = _form(owner, payment)
    form = {"csrf": csrf, "attempt": attempt, "amount": "50000", "reason": "rusak"}
    refused = owner.post(f"/dashboard/payments/{payment}/refund", data=form)

    assert refused.status_code == 422, refused.text
    assert "Kanal pembayaran menolak permintaan ini." in refused.text
    assert desk.shop.paylink.payments.get(payment).refunded == Money(0, "IDR")
    assert _count(desk, "Payment.RefundFailed") == 1
    assert _count(desk, "Payment.Refunded") == 0


def test_a_viewer_and_another_merchant_cannot_refund(desk: Desk) -> None:
    payment = _paid(desk)
    viewer = desk.signed_in(VIEWER)
    assert f"/dashboard/payments/{payment}/refund" not in viewer.get("/dashboard/payments").text
    assert viewer.get(f"/dashboard/payments/{payment}/refund").status_code == 403
    form = {"amount": "1000", "reason": "x"}
    assert post(viewer, f"/dashboard/payments/{payment}/refund", form).status_code == 403

    stranger = desk.signed_in(OTHER_OWNER)
    assert stranger.get(f"/dashboard/payments/{payment}/refund").status_code == 404
    assert post(stranger, f"/dashboard/payments/{payment}/refund", form).status_code == 404
    assert desk.shop.paylink.payments.get(payment).refunded == Money(0, "IDR")


def test_an_overpayment_held_for_review_is_accepted_from_the_dashboard(desk: Desk) -> None:
    owner = desk.signed_in()
    link = desk.link(amount=100_000)
    code = desk.shop.paylink.links.get(link).code
    payment = desk.shop.choose(code, "va_bca", client=desk.shop.visitor())
    assert desk.shop.sandbox_pay(payment, "overpay").status_code == 200
    desk.catch_up()
    assert desk.shop.paylink.payments.get(payment).disposition == "needs_review"
    page = owner.get(f"/dashboard/payments/{payment}/refund")
    assert 'data-testid="review-form"' in page.text
    assert 'data-testid="refund-form"' not in page.text

    accepted = post(owner, f"/dashboard/payments/{payment}/review", {"decision": "accept"})

    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == "/dashboard/payments?notice=review_accepted"
    assert desk.shop.paylink.payments.get(payment).disposition is None
    again = post(owner, f"/dashboard/payments/{payment}/review", {"decision": "maybe"})
    assert again.status_code == 422
    assert "Keputusan: pilih salah satu" in again.text

"""Redirects to a link's URLs: which outcome, the URL the merchant gets, and its signature.

The signature is checked two ways: with ``verify_redirect``, and with the recipe the
README gives merchants (its Python block, run as it is), so the documented string and the
code cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import pytest

from paylink_es.domain.merchant import Merchant
from paylink_es.domain.redirects import (
    FAILURE,
    SUCCESS,
    Outcome,
    outcome,
    redirect_url,
    signed_string,
    verify_redirect,
)
from tests.support.redirects import readme_recipe

LINK = UUID("11111111-1111-4111-8111-111111111111")
PAYMENT = UUID("22222222-2222-4222-8222-222222222222")
SECRET = "rdsec_test_0123456789abcdefghijABCDEFGHIJ"
NOW = 1_767_600_000


def readme_verify(url: str, secret: str, now: int) -> bool:
    """The README's recipe (it reads the real clock: stood still at ``now`` here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: float(now))
        return readme_recipe()(url, secret) is not None


@pytest.mark.parametrize(
    ("link_status", "payment_status", "disposition", "expected"),
    [
        ("completed", "verified", None, (SUCCESS, None)),
        ("active", "settled", None, (SUCCESS, None)),
        ("active", "rejected", None, (FAILURE, "rejected")),
        ("active", "paid", "needs_review", (FAILURE, "review")),
        ("active", "verified", "needs_review", (FAILURE, "review")),
        ("cancelled", "verified", "refund_due", (FAILURE, "refund")),
        ("expired", "initiated", None, (FAILURE, "expired")),
        ("cancelled", "initiated", None, (FAILURE, "cancelled")),
        ("completed", "initiated", None, (FAILURE, "completed")),
        ("active", "initiated", None, None),
        ("active", "paid", None, None),  # money arrived, being checked: not yet
        ("expired", "paid", None, None),
    ],
)
def test_the_outcome_of_a_payment(
    link_status: str,
    payment_status: str,
    disposition: str | None,
    expected: tuple[str, str | None] | None,
) -> None:
    done = outcome(LINK, link_status, PAYMENT, payment_status, disposition)
    if expected is None:
        assert done is None
    else:
        assert done == Outcome(expected[0], LINK, PAYMENT, expected[1])  # type: ignore[arg-type]


def test_a_link_without_a_payment_fails_only_once_expired_or_cancelled() -> None:
    assert outcome(LINK, "expired") == Outcome(FAILURE, LINK, None, "expired")
    assert outcome(LINK, "cancelled") == Outcome(FAILURE, LINK, None, "cancelled")
    assert outcome(LINK, "active") is None
    assert outcome(LINK, "completed") is None


def test_the_url_keeps_the_merchants_own_parameters_and_signs_ours() -> None:
    base = "https://shop.example/thanks?order=42&note=a+b&paylink_result=forged#top"
    url = redirect_url(base, SECRET, Outcome(SUCCESS, LINK, PAYMENT), NOW)

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "shop.example",
        "/thanks",
        "top",
    )
    assert parts.query.startswith("order=42&note=a+b&")  # as the merchant wrote them
    pairs = parse_qsl(parts.query)
    assert [name for name, _ in pairs] == [
        "order",
        "note",
        "paylink_result",
        "paylink_link_id",
        "paylink_payment_id",
        "paylink_t",
        "paylink_signature",
    ]
    values = dict(pairs)
    assert values["paylink_result"] == "success"
    assert values["paylink_link_id"] == str(LINK)
    assert values["paylink_payment_id"] == str(PAYMENT)
    assert values["paylink_t"] == str(NOW)
    message = signed_string(NOW, "success", str(LINK), str(PAYMENT), "")
    assert message == f"t={NOW}&result=success&link_id={LINK}&payment_id={PAYMENT}&reason="
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert values["paylink_signature"] == expected
    assert readme_verify(url, SECRET, NOW)
    verified = verify_redirect(SECRET, url, NOW)
    assert verified is not None
    assert (verified.result, verified.link_id, verified.payment_id, verified.reason) == (
        "success",
        str(LINK),
        str(PAYMENT),
        None,
    )


def test_a_failure_without_a_payment_signs_empty_values() -> None:
    url = redirect_url(
        "https://shop.example/sorry", SECRET, Outcome(FAILURE, LINK, None, "expired"), NOW
    )
    values = dict(parse_qsl(urlsplit(url).query))
    assert "paylink_payment_id" not in values
    assert values["paylink_reason"] == "expired"
    assert readme_verify(url, SECRET, NOW)
    verified = verify_redirect([SECRET], urlsplit(url).query, NOW)
    assert verified is not None
    assert (verified.result, verified.payment_id, verified.reason) == ("failure", None, "expired")


def _with(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    pairs = [
        (name, changes.get(name, value))
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    kept = [(name, value) for name, value in pairs if value is not None]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def test_a_tampered_stale_or_foreign_redirect_does_not_verify() -> None:
    url = redirect_url(
        "https://shop.example/ok", SECRET, Outcome(FAILURE, LINK, PAYMENT, "rejected"), NOW
    )
    other = "33333333-3333-4333-8333-333333333333"
    tampered = {
        "result flipped": _with(url, paylink_result="success"),
        "reason changed": _with(url, paylink_reason="review"),
        "reason dropped": _with(url, paylink_reason=None),
        "another link": _with(url, paylink_link_id=other),
        "another payment": _with(url, paylink_payment_id=other),
        "payment dropped": _with(url, paylink_payment_id=None),
        "time moved": _with(url, paylink_t=str(NOW + 1)),
        "no time": _with(url, paylink_t=None),
        "no signature": _with(url, paylink_signature=None),
        "signature altered": _with(url, paylink_signature="0" * 64),
        "given twice": url + "&paylink_result=success",
    }
    for why, forged in tampered.items():
        assert verify_redirect(SECRET, forged, NOW) is None, why
        assert not readme_verify(forged, SECRET, NOW), why
    assert verify_redirect("rdsec_live_another", url, NOW) is None
    assert verify_redirect(SECRET, url, NOW + 301) is None
    assert verify_redirect(SECRET, url, NOW - 301) is None
    assert not readme_verify(url, SECRET, NOW + 301)
    assert verify_redirect(["rdsec_test_old", SECRET], url, NOW + 300) is not None


def test_a_url_with_quotes_cannot_break_out_of_a_meta_refresh() -> None:
    url = redirect_url("https://shop.example/o'k\"", SECRET, Outcome(SUCCESS, LINK, PAYMENT), NOW)
    assert "'" not in url
    assert '"' not in url
    assert verify_redirect(SECRET, url, NOW) is not None


def test_a_merchant_has_a_redirect_secret_per_mode() -> None:
    merchant = Merchant(id=LINK, name="Toko", email=None)
    assert merchant.redirect_secrets == {}
    test = merchant.new_redirect_secret("test")
    live = merchant.new_redirect_secret("live")
    assert test.startswith("rdsec_test_")
    assert live.startswith("rdsec_live_")
    assert len(test) == len("rdsec_test_") + 32
    assert merchant.redirect_secrets == {"test": test, "live": live}
    rotated = merchant.new_redirect_secret("test")
    assert rotated != test
    assert merchant.redirect_secrets["test"] == rotated

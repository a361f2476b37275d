"""Winpay's VA payment callbacks: signed by the counterpart, checked by us."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.channels.snap import WIB, RsaVerifier, SnapCallbackVerifier, callback_answer
from paylink_es.channels.snap_codes import SnapCallbackRejectedError
from paylink_es.money import Money
from tests.channels.snap_counterpart import (
    CALLBACK_PATH,
    WinpayCounterpart,
    payment_body,
    public_pem,
)

NOW = datetime(2024, 1, 11, 9, 0, 5, tzinfo=WIB)


@pytest.fixture
def verifier(winpay_key: rsa.RSAPrivateKey) -> SnapCallbackVerifier:
    return SnapCallbackVerifier(RsaVerifier.from_pem(public_pem(winpay_key)))


def rejection(
    verifier: SnapCallbackVerifier, headers: dict[str, str], body: bytes, now: datetime = NOW
) -> str:
    with pytest.raises(SnapCallbackRejectedError) as caught:
        verifier.verify_callback("POST", CALLBACK_PATH, headers, body, now)
    return caught.value.response_code


def test_a_good_callback_parses_into_a_payment(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    payment = verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW)
    assert payment.partner_service_id == "    9042"
    assert payment.customer_no == "00000009"
    assert payment.virtual_account_no == "    904200000009"
    assert payment.trx_id == "INV-000000023220"
    assert payment.payment_request_id == "45539"
    assert payment.paid == Money(10_000, "IDR")
    assert payment.trx_date_time == datetime(2024, 1, 11, 8, 57, 55, tzinfo=WIB)
    assert payment.trx_date_time.utcoffset() == timedelta(hours=7)
    assert payment.channel == "BSI"


def test_header_names_are_case_insensitive(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    lower = {key.lower(): value for key, value in headers.items()}
    assert verifier.verify_callback("POST", CALLBACK_PATH, lower, body, NOW).trx_id


def test_the_success_answer_is_the_documented_json() -> None:
    assert callback_answer() == b'{"responseCode":"2002500","responseMessage":"Successful"}'


def test_a_callback_signed_with_another_key_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, key=merchant_key)
    assert rejection(verifier, headers, body) == "4012500"


def test_a_callback_without_signature_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    del headers["X-SIGNATURE"]
    assert rejection(verifier, headers, body) == "4012500"


def test_a_signature_for_another_path_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(
        payment_body(), stamp=NOW, path="/other/v1.0/transfer-va/payment"
    )
    assert rejection(verifier, headers, body) == "4012500"


@pytest.mark.parametrize("skew", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_a_stale_or_future_timestamp_is_unauthorized(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, skew: timedelta
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW - skew)
    assert rejection(verifier, headers, body) == "4012500"


def test_a_timestamp_within_five_minutes_is_accepted(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW - timedelta(minutes=4))
    assert verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW).paid.amount == 10000


@pytest.mark.parametrize(("old", "new"), [(b"10000.00", b"90000.00"), (b"45539", b"45538")])
def test_one_altered_byte_breaks_the_signature(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, old: bytes, new: bytes
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    assert rejection(verifier, headers, body.replace(old, new)) == "4012500"


@pytest.mark.parametrize(
    "path",
    [
        ("partnerServiceId",),
        ("customerNo",),
        ("virtualAccountNo",),
        ("trxId",),
        ("paymentRequestId",),
        ("paidAmount",),
        ("paidAmount", "value"),
        ("paidAmount", "currency"),
        ("trxDateTime",),
        ("additionalInfo",),
        ("additionalInfo", "channel"),
    ],
)
def test_a_missing_mandatory_field_is_4002502(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, path: tuple[str, ...]
) -> None:
    body = payment_body()
    parent: dict[str, Any] = body if len(path) == 1 else body[path[0]]
    del parent[path[-1]]
    headers, raw = counterpart.callback(body, stamp=NOW)
    assert rejection(verifier, headers, raw) == "4002502"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("paidAmount", "value"), "10000.50"),
        (("paidAmount", "value"), "1e4"),
        (("paidAmount", "value"), "-5.00"),
        (("paidAmount", "value"), "10,000.00"),
        (("paidAmount", "value"), 10000),
        (("paidAmount", "currency"), "XYZ"),
        (("customerNo",), "0000000A"),
        (("partnerServiceId",), "9042"),
        (("virtualAccountNo",), "904200000009"),
        (("trxDateTime",), "2024-01-11T08:57:55"),
        (("trxDateTime",), "2024-02-30T08:57:55+07:00"),
        (("additionalInfo", "channel"), "NOTABANK"),
        (("trxId",), "INV"),
    ],
)
def test_an_invalid_field_format_is_4002501(
    verifier: SnapCallbackVerifier,
    counterpart: WinpayCounterpart,
    path: tuple[str, ...],
    value: object,
) -> None:
    body = payment_body()
    parent: dict[str, Any] = body if len(path) == 1 else body[path[0]]
    parent[path[-1]] = value
    headers, raw = counterpart.callback(body, stamp=NOW)
    assert rejection(verifier, headers, raw) == "4002501"


def test_a_body_that_is_not_json_is_4002501(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, raw = counterpart.callback(b"{not json", stamp=NOW)
    assert rejection(verifier, headers, raw) == "4002501"


def test_a_replayed_external_id_is_refused_the_same_day_only(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id="555")
    verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW)
    assert rejection(verifier, headers, body) == "4092500"
    tomorrow = NOW + timedelta(days=1)
    headers, body = counterpart.callback(payment_body(), stamp=tomorrow, external_id="555")
    assert verifier.verify_callback("POST", CALLBACK_PATH, headers, body, tomorrow).trx_id


def test_a_refused_callback_does_not_use_up_its_external_id(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    bad = payment_body()
    bad["customerNo"] = "X"
    headers, body = counterpart.callback(bad, stamp=NOW, external_id="777")
    assert rejection(verifier, headers, body) == "4002501"
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id="777")
    assert verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW).trx_id


@pytest.mark.parametrize("external_id", ["", "12a4"])
def test_a_missing_or_non_numeric_external_id_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, external_id: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id=external_id)
    assert rejection(verifier, headers, body) == ("4002502" if not external_id else "4002501")


def test_a_callback_on_another_endpoint_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, path="/v1.0/qr/qr-mpm-notify")
    with pytest.raises(SnapCallbackRejectedError) as caught:
        verifier.verify_callback("POST", "/v1.0/qr/qr-mpm-notify", headers, body, NOW)
    assert caught.value.http_status == 401


def test_a_rejection_answers_with_its_code(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, key=merchant_key)
    with pytest.raises(SnapCallbackRejectedError) as caught:
        verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW)
    answer = json.loads(callback_answer(caught.value.response_code, caught.value.reason))
    assert answer["responseCode"] == "4012500"
    assert answer["responseMessage"] == "Unauthorized. Signature"
    assert caught.value.http_status == 401


def test_a_stale_timestamp_and_a_bad_signature_share_the_code_not_the_message(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    reasons = []
    for stamp, key in ((NOW - timedelta(minutes=6), None), (NOW, merchant_key)):
        headers, body = counterpart.callback(payment_body(), stamp=stamp, key=key)
        with pytest.raises(SnapCallbackRejectedError) as caught:
            verifier.verify_callback("POST", CALLBACK_PATH, headers, body, NOW)
        assert caught.value.response_code == "4012500"
        reasons.append(caught.value.reason)
    assert reasons == ["Unauthorized. stale X-TIMESTAMP", "Unauthorized. Signature"]

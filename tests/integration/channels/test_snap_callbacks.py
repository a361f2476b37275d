"""Winpay's notifications: signed by the counterpart as Winpay signs them, authenticated
and read by us (``SnapCallbackVerifier.authenticate``, ``parse_va_payment``,
``parse_transaction_notice``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.channels.snap_callbacks import (
    InMemorySeenExternalIds,
    SignedNotification,
    SnapCallbackVerifier,
    VaPaid,
    callback_answer,
    code_for,
    parse_transaction_notice,
    parse_va_payment,
    relative_path,
)
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_codes import SnapCallbackRejectedError
from paylink_es.channels.snap_signing import RsaSigner, RsaVerifier
from paylink_es.channels.winpay import CALLBACK_PATH, EWALLET_NOTIFY_PATH, QRIS_NOTIFY_PATH
from paylink_es.channels.winpay_api import WinpayApi
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from tests.support.snap_counterpart import EWALLET_NOTIFY_PATH as SIGNED_EWALLET_PATH
from tests.support.snap_counterpart import QRIS_NOTIFY_PATH as SIGNED_QRIS_PATH
from tests.support.snap_counterpart import (
    VA_FEE,
    WinpayCounterpart,
    check_once_per_day,
    payment_body,
    private_pem,
    public_pem,
    va_payment_body,
)

NOW = datetime(2024, 1, 11, 9, 0, 5, tzinfo=WIB)
# A VA as the counterpart's create-va answers it (BSI's BIN, Winpay's customerNo).
VA: dict[str, Any] = {
    "partnerServiceId": "    9042",
    "customerNo": "41693898987",
    "virtualAccountNo": "    904241693898987",
    "virtualAccountName": "Toko Budi",
    "trxId": "INV-000000023220",
    "totalAmount": {"value": "10000.00", "currency": "IDR"},
    "virtualAccountTrxType": "c",
    "expiredDate": "2024-01-12T09:00:00+07:00",
    "additionalInfo": {"channel": "BSI", "contractId": "si1cd5671d-1234"},
}


@pytest.fixture
def verifier(winpay_key: rsa.RSAPrivateKey) -> SnapCallbackVerifier:
    return SnapCallbackVerifier(RsaVerifier.from_pem(public_pem(winpay_key)))


def authenticate(
    verifier: SnapCallbackVerifier,
    headers: dict[str, str],
    body: bytes,
    now: datetime = NOW,
    path: str = CALLBACK_PATH,
) -> SignedNotification:
    return verifier.authenticate("POST", path, headers, body, now)


def accepted(
    verifier: SnapCallbackVerifier, headers: dict[str, str], body: bytes, now: datetime = NOW
) -> VaPaid:
    return parse_va_payment(authenticate(verifier, headers, body, now).body)


def rejection(
    verifier: SnapCallbackVerifier, headers: dict[str, str], body: bytes, now: datetime = NOW
) -> SnapCallbackRejectedError:
    with pytest.raises(SnapCallbackRejectedError) as caught:
        accepted(verifier, headers, body, now)
    return caught.value


def code(
    verifier: SnapCallbackVerifier, headers: dict[str, str], body: bytes, now: datetime = NOW
) -> str:
    return rejection(verifier, headers, body, now).response_code


# -- a good notification --------------------------------------------------------------------


def test_a_good_callback_parses_into_a_payment(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    signed = authenticate(verifier, headers, body)
    assert (signed.service, signed.external_id, signed.day) == ("25", "100000000001", NOW.date())
    payment = parse_va_payment(signed.body)
    assert payment.partner_service_id == "    9042"
    assert payment.customer_no == "00000009"
    assert payment.virtual_account_no == "    904200000009"
    assert payment.trx_id == "INV-000000023220"
    assert payment.payment_request_id == "45539"
    assert payment.reference_no == "45539"
    assert payment.paid == Money(10_000, "IDR")
    assert payment.fee is None
    assert payment.trx_date_time == datetime(2024, 1, 11, 8, 57, 55, tzinfo=WIB)
    assert payment.trx_date_time.utcoffset() == timedelta(hours=7)
    assert (payment.channel, payment.contract_id) == ("BSI", "si1cd5671d-1234")


def test_the_external_ids_day_is_jakartas(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    late_utc = datetime.fromisoformat("2024-01-10T18:30:00+00:00")  # 01:30 in Jakarta
    headers, body = counterpart.callback(payment_body(), stamp=late_utc)
    assert authenticate(verifier, headers, body, late_utc).day == date(2024, 1, 11)


def test_without_reference_no_the_payment_request_id_references_the_money(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    body = payment_body()
    del body["referenceNo"]
    del body["additionalInfo"]["contractId"]
    headers, raw = counterpart.callback(body, stamp=NOW)
    payment = accepted(verifier, headers, raw)
    assert (payment.reference_no, payment.contract_id) == ("45539", None)


@pytest.mark.parametrize("amount_style", ["plain", "decimal"])
@pytest.mark.parametrize("fees", [False, True])
def test_amounts_come_as_10000_or_10000_00_with_or_without_fee_and_nett(
    verifier: SnapCallbackVerifier,
    counterpart: WinpayCounterpart,
    amount_style: Literal["plain", "decimal"],
    fees: bool,
) -> None:
    body = va_payment_body(VA, "45539", amount_style=amount_style, fees=fees)
    assert body["paidAmount"]["value"] == ("10000" if amount_style == "plain" else "10000.00")
    assert ("feeAmount" in body, "nettAmount" in body) == (fees, fees)
    now = datetime.fromisoformat(body["trxDateTime"])
    headers, raw = counterpart.callback(body, stamp=now)
    payment = accepted(verifier, headers, raw, now)
    assert payment.paid == Money(10_000, "IDR")
    assert payment.fee == (Money(VA_FEE, "IDR") if fees else None)
    assert payment.customer_no == "41693898987"
    assert payment.virtual_account_no == "    904241693898987"


@pytest.mark.parametrize("millis", [False, True])
def test_timestamps_come_with_or_without_milliseconds(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, millis: bool
) -> None:
    body = va_payment_body(VA, "45539", millis=millis)
    assert ("." in body["trxDateTime"]) is millis
    stamp = NOW + timedelta(milliseconds=250)
    headers, raw = counterpart.callback(body, stamp=stamp, millis=millis)
    assert ("." in headers["X-TIMESTAMP"]) is millis
    payment = accepted(verifier, headers, raw)
    assert payment.trx_date_time == datetime.fromisoformat(body["trxDateTime"])


def test_a_pretty_printed_body_signed_over_its_minified_form_is_accepted(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, raw = counterpart.callback(payment_body(), stamp=NOW, pretty=True)
    assert b"\n  " in raw  # indented on the wire
    assert accepted(verifier, headers, raw).paid == Money(10_000, "IDR")
    # Altered after signing, pretty or not, it is refused.
    assert code(verifier, headers, raw.replace(b'"45539"', b'"45538"', 1)) == "4012500"


def test_a_body_signed_over_its_raw_bytes_is_accepted(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    raw = json.dumps(payment_body(), indent=4).encode()  # signed exactly as sent
    headers, sent = counterpart.callback(raw, stamp=NOW)
    assert sent == raw
    assert accepted(verifier, headers, sent).trx_id == "INV-000000023220"


def test_header_names_are_case_insensitive(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    lower = {key.lower(): value for key, value in headers.items()}
    assert accepted(verifier, lower, body).trx_id


# -- the signed path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "received_at",
    [CALLBACK_PATH, "/v1.0/transfer-va/payment", "/shop/hooks/winpay/v1.0/transfer-va/payment"],
)
def test_the_signed_path_is_relative_from_v1_0_whatever_base_the_merchant_registered(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, received_at: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)  # signs /v1.0/…
    assert parse_va_payment(authenticate(verifier, headers, body, path=received_at).body).trx_id
    assert relative_path(received_at) == "/v1.0/transfer-va/payment"


@pytest.mark.parametrize(
    "signed_path", ["/other/v1.0/transfer-va/payment", "/v1.0/qr/qr-mpm-notify", "/v1.0/"]
)
def test_a_signature_for_another_path_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, signed_path: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, path=signed_path)
    refused = rejection(verifier, headers, body)
    assert (refused.response_code, refused.reason) == ("4012500", "Unauthorized. Signature")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/channels/winpay/v1.0/transfer-va/other"),
        ("POST", "/channels/winpay/notify"),
        ("GET", CALLBACK_PATH),
        ("PUT", CALLBACK_PATH),
    ],
)
def test_a_callback_on_another_endpoint_or_method_is_not_found(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, method: str, path: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    with pytest.raises(SnapCallbackRejectedError) as caught:
        verifier.authenticate(method, path, headers, body, NOW)
    assert (caught.value.response_code, caught.value.http_status) == ("4042500", 404)


# -- refused: headers, time, signature ------------------------------------------------------------


def test_the_success_answer_is_the_documented_json() -> None:
    assert callback_answer() == b'{"responseCode":"2002500","responseMessage":"Successful"}'
    assert code_for("52", 400, "02") == "4005202"


@pytest.mark.parametrize("header", ["X-TIMESTAMP", "X-SIGNATURE", "X-EXTERNAL-ID"])
@pytest.mark.parametrize("how", ["left out", "blank"])
def test_a_missing_header_is_4002502_naming_it(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, header: str, how: str
) -> None:
    if how == "left out":
        headers, body = counterpart.callback(payment_body(), stamp=NOW, drop=(header,))
        assert header not in headers
    else:
        headers, body = counterpart.callback(payment_body(), stamp=NOW)
        headers[header] = "  "
    refused = rejection(verifier, headers, body)
    assert refused.response_code == "4002502"
    assert refused.reason == f"Invalid Mandatory Field {header}"
    assert refused.http_status == 400


@pytest.mark.parametrize(
    "stamp", ["2024-01-11 09:00:05+07:00", "1704938405", "2024-01-11T09:00:05", "yesterday"]
)
def test_an_x_timestamp_of_another_form_is_4002501(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, stamp: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    headers["X-TIMESTAMP"] = stamp
    refused = rejection(verifier, headers, body)
    assert (refused.response_code, refused.reason) == (
        "4002501",
        "Invalid Field Format X-TIMESTAMP",
    )


def test_a_callback_signed_with_another_key_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, key=merchant_key)
    assert code(verifier, headers, body) == "4012500"


def test_a_garbled_signature_is_refused(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    headers["X-SIGNATURE"] = "not base64!!"
    assert code(verifier, headers, body) == "4012500"


@pytest.mark.parametrize("skew", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_a_stale_or_future_timestamp_is_unauthorized(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, skew: timedelta
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW - skew)
    assert code(verifier, headers, body) == "4012500"


def test_a_timestamp_within_five_minutes_is_accepted(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW - timedelta(minutes=4))
    assert accepted(verifier, headers, body).paid.amount == 10000


def test_the_tolerance_can_be_narrowed(
    winpay_key: rsa.RSAPrivateKey, counterpart: WinpayCounterpart
) -> None:
    strict = SnapCallbackVerifier(RsaVerifier(winpay_key.public_key()), timedelta(seconds=30))
    headers, body = counterpart.callback(payment_body(), stamp=NOW - timedelta(minutes=1))
    assert code(strict, headers, body) == "4012500"


@pytest.mark.parametrize(("old", "new"), [(b"10000.00", b"90000.00"), (b"45539", b"45538")])
def test_one_altered_byte_breaks_the_signature(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, old: bytes, new: bytes
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW)
    assert code(verifier, headers, body.replace(old, new)) == "4012500"


def test_a_rejection_answers_with_its_code(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, key=merchant_key)
    refused = rejection(verifier, headers, body)
    answer = json.loads(callback_answer(refused.response_code, refused.reason))
    assert answer["responseCode"] == "4012500"
    assert answer["responseMessage"] == "Unauthorized. Signature"
    assert refused.http_status == 401


def test_a_stale_timestamp_and_a_bad_signature_share_the_code_not_the_message(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    reasons = []
    for stamp, key in ((NOW - timedelta(minutes=6), None), (NOW, merchant_key)):
        headers, body = counterpart.callback(payment_body(), stamp=stamp, key=key)
        refused = rejection(verifier, headers, body)
        assert refused.response_code == "4012500"
        reasons.append(refused.reason)
    assert reasons == ["Unauthorized. stale X-TIMESTAMP", "Unauthorized. Signature"]


# -- X-EXTERNAL-ID ---------------------------------------------------------------------------------

# Fixed, not drawn at collection: the workers of a parallel run must collect the same ids.
A_UUID = "9c86c93a-0b0b-4897-8135-1a85b99469bb"
ANOTHER_UUID = "51ce003d-2541-4cc7-9264-454f553bc7ad"


@pytest.mark.parametrize(
    "external_id", ["555", "100000000001", "0" * 36, A_UUID, ANOTHER_UUID.upper()]
)
def test_an_external_id_of_digits_or_a_uuid_is_accepted(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, external_id: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id=external_id)
    assert authenticate(verifier, headers, body).external_id == external_id


@pytest.mark.parametrize(
    "external_id", ["12a4", "1" * 37, "-1", "12 34", A_UUID[:-1], "\uff11\uff12\uff13"]
)
def test_an_external_id_of_another_form_is_4002501(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, external_id: str
) -> None:
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id=external_id)
    refused = rejection(verifier, headers, body)
    assert (refused.response_code, refused.reason) == (
        "4002501",
        "Invalid Field Format X-EXTERNAL-ID",
    )


def test_authenticating_uses_up_no_external_id(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    """Whether an id was used is the caller's question, asked after processing: a
    notification answered "not yet" must be accepted again on Winpay's retry."""
    headers, body = counterpart.callback(payment_body(), stamp=NOW, external_id="555")
    first = authenticate(verifier, headers, body)
    again = authenticate(verifier, headers, body)
    assert first == again


def test_seen_external_ids_are_per_jakarta_day_and_only_once_added() -> None:
    seen = InMemorySeenExternalIds()
    check_once_per_day(seen, seen, date(2024, 1, 11), "555", "556")


def test_seen_external_ids_keep_only_today_and_yesterday() -> None:
    seen = InMemorySeenExternalIds()
    first = date(2024, 1, 11)
    seen.add(first, "555")
    seen.add(first + timedelta(days=1), "556")
    assert seen.seen(first, "555")
    seen.add(first + timedelta(days=2), "557")  # the first day is forgotten now
    assert not seen.seen(first, "555")
    assert seen.seen(first + timedelta(days=1), "556")


# -- the body's fields ---------------------------------------------------------------------------


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
def test_a_missing_mandatory_field_is_4002502_naming_it(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, path: tuple[str, ...]
) -> None:
    body = payment_body()
    parent: dict[str, Any] = body if len(path) == 1 else body[path[0]]
    del parent[path[-1]]
    headers, raw = counterpart.callback(body, stamp=NOW)
    refused = rejection(verifier, headers, raw)
    assert refused.response_code == "4002502"
    assert refused.reason.endswith(path[-1])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("paidAmount", "value"), "10000.50"),
        (("paidAmount", "value"), "1e4"),
        (("paidAmount", "value"), "-5.00"),
        (("paidAmount", "value"), "10,000.00"),
        (("paidAmount", "value"), "10000.0"),
        (("paidAmount", "value"), 10000),
        (("paidAmount", "currency"), "XYZ"),
        (("paidAmount",), "10000.00"),
        (("customerNo",), "0000000A"),
        (("partnerServiceId",), "123456789"),
        (("partnerServiceId",), "  90-42"),
        (("virtualAccountNo",), "    904200000010"),  # not the BIN + customerNo
        (("virtualAccountNo",), "    9042-00000009"),
        (("trxDateTime",), "2024-01-11T08:57:55"),
        (("trxDateTime",), "2024-02-30T08:57:55+07:00"),
        (("additionalInfo",), "BSI"),
        (("additionalInfo", "channel"), "bsi"),
        (("additionalInfo", "channel"), "B"),
        (("trxId",), "x" * 65),
        (("trxId",), "INV\n0001"),
        (("trxId",), 23220),
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
    refused = rejection(verifier, headers, raw)
    assert refused.response_code == "4002501"
    assert refused.reason.startswith("Invalid Field Format ")
    assert path[-1] in refused.reason


@pytest.mark.parametrize("field", ["feeAmount", "nettAmount"])
def test_a_malformed_fee_or_nett_amount_is_4002501(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, field: str
) -> None:
    body = va_payment_body(VA, "45539", fees=True)
    body[field] = {"value": "4000.5", "currency": "IDR"}
    now = datetime.fromisoformat(body["trxDateTime"])
    headers, raw = counterpart.callback(body, stamp=now)
    refused = rejection(verifier, headers, raw, now)
    assert (refused.response_code, refused.reason) == (
        "4002501",
        f"Invalid Field Format {field}.value",
    )


def test_the_bin_and_va_number_compare_with_their_spaces_stripped(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    """Create answers and callbacks pad the BIN; status answers do not; both are one VA."""
    body = payment_body()
    body["partnerServiceId"], body["virtualAccountNo"] = "9042", "904200000009"
    headers, raw = counterpart.callback(body, stamp=NOW)
    payment = accepted(verifier, headers, raw)
    assert (payment.partner_service_id, payment.virtual_account_no) == ("9042", "904200000009")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_4002501(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, raw: bytes
) -> None:
    headers, body = counterpart.callback(raw, stamp=NOW)
    refused = rejection(verifier, headers, body)
    assert (refused.response_code, refused.reason) == ("4002501", "Invalid Field Format body")


# -- QRIS and e-wallet notifications ------------------------------------------------------------


@pytest.fixture
def api(counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey) -> Iterator[WinpayApi]:
    with SnapClient(
        base_url=counterpart.base_url,
        partner_id="PAYLINK",
        channel_id="WEB",
        signer=RsaSigner.from_pem(private_pem(merchant_key)),
        clock=lambda: datetime.now(WIB),
    ) as client:
        yield WinpayApi(client)


@pytest.mark.parametrize("amount_style", ["plain", "decimal"])
@pytest.mark.parametrize("millis", [False, True])
def test_a_qris_notification_is_authenticated_and_read(
    verifier: SnapCallbackVerifier,
    counterpart: WinpayCounterpart,
    api: WinpayApi,
    amount_style: Literal["plain", "decimal"],
    millis: bool,
) -> None:
    code = api.generate_qris(partner_reference_no="QR-NOTIFY-1", amount=Money(25_000, "IDR"))
    counterpart.pay_qris("QR-NOTIFY-1")
    body = counterpart.notify_body("qris", "QR-NOTIFY-1", amount_style=amount_style, millis=millis)
    now = datetime.now(WIB)
    headers, raw = counterpart.callback(body, stamp=now, path=SIGNED_QRIS_PATH, millis=millis)
    signed = verifier.authenticate("POST", QRIS_NOTIFY_PATH, headers, raw, now)
    assert signed.service == "52"
    notice = parse_transaction_notice(signed.body, signed.service)
    assert (notice.reference_no, notice.partner_reference_no) == (code.reference_no, "QR-NOTIFY-1")
    assert (notice.status, notice.description) == ("00", "Success")
    assert notice.amount == Money(25_000, "IDR")
    assert notice.paid_at is not None


def test_an_ewallet_notification_is_authenticated_and_read(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart, api: WinpayApi
) -> None:
    made = api.pay_by_ewallet(
        partner_reference_no="EW-NOTIFY-1",
        amount=Money(30_000, "IDR"),
        method="ewallet_ovo",
        return_url="http://127.0.0.1:9/",
        valid_until=datetime.now(WIB) + timedelta(hours=1),
    )
    counterpart.pay_ewallet("EW-NOTIFY-1")
    body = counterpart.notify_body("ewallet", "EW-NOTIFY-1", amount_style="plain")
    now = datetime.now(WIB)
    headers, raw = counterpart.callback(body, stamp=now, path=SIGNED_EWALLET_PATH, pretty=True)
    signed = verifier.authenticate("POST", EWALLET_NOTIFY_PATH, headers, raw, now)
    assert signed.service == "56"
    notice = parse_transaction_notice(signed.body, signed.service)
    assert notice.reference_no == made.reference_no
    assert notice.amount == Money(30_000, "IDR")


def test_qris_and_ewallet_refusals_carry_their_own_service_code(
    verifier: SnapCallbackVerifier, counterpart: WinpayCounterpart
) -> None:
    body = {
        "originalPartnerReferenceNo": "QR-1",
        "latestTransactionStatus": "00",
        "amount": {"value": "1000", "currency": "IDR"},
    }
    headers, raw = counterpart.callback(body, stamp=NOW, path=SIGNED_QRIS_PATH)
    signed = verifier.authenticate("POST", QRIS_NOTIFY_PATH, headers, raw, NOW)
    with pytest.raises(SnapCallbackRejectedError) as missing:
        parse_transaction_notice(signed.body, signed.service)
    assert missing.value.response_code == "4005202"
    assert missing.value.reason == "Invalid Mandatory Field originalReferenceNo"

    headers, raw = counterpart.callback(
        body, stamp=NOW, path=SIGNED_QRIS_PATH, drop=("X-SIGNATURE",)
    )
    with pytest.raises(SnapCallbackRejectedError) as header:
        verifier.authenticate("POST", QRIS_NOTIFY_PATH, headers, raw, NOW)
    assert header.value.response_code == "4005202"

    headers, raw = counterpart.callback(body, stamp=NOW, path=SIGNED_QRIS_PATH)
    with pytest.raises(SnapCallbackRejectedError) as elsewhere:  # signed for QRIS, sent to e-wallet
        verifier.authenticate("POST", EWALLET_NOTIFY_PATH, headers, raw, NOW)
    assert elsewhere.value.response_code == "4015600"

    bad = {**body, "originalReferenceNo": "QR1", "latestTransactionStatus": "0"}
    with pytest.raises(SnapCallbackRejectedError) as invalid:
        parse_transaction_notice(bad, "56")
    assert invalid.value.response_code == "4005601"

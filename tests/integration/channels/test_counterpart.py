"""The Winpay counterpart itself, over real HTTP on 127.0.0.1, against Winpay's documents.

The requests here are signed by code of this file (not the counterpart's helpers, not the
adapter), and the callbacks the counterpart signs are checked the same independent way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.loopback import LoopbackServer, QuietHandler
from tests.support.snap_counterpart import (
    BINS,
    EWALLET_NOTIFY_PATH,
    QRIS_NOTIFY_PATH,
    VA_PAYMENT_PATH,
    WinpayCounterpart,
    va_payment_body,
)

JAKARTA = timezone(timedelta(hours=7))
CREATE = "/v1.0/transfer-va/create-va"
STATUS = "/v1.0/transfer-va/status"
DELETE = "/v1.0/transfer-va/delete-va"
SECRET = "counterpart-self-test-secret"
_ids = count(700_000_000_001)


# -- independent signing --------------------------------------------------------------------


def stamp_now(*, millis: bool = False) -> str:
    """X-TIMESTAMP for now, Jakarta time."""
    return datetime.now(JAKARTA).isoformat(timespec="milliseconds" if millis else "seconds")


def string_to_sign(method: str, path: str, body: bytes, stamp: str) -> bytes:
    """METHOD:path:lowercasehex(sha256(body)):X-TIMESTAMP."""
    return f"{method}:{path}:{hashlib.sha256(body).hexdigest()}:{stamp}".encode()


def rsa_signature(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA, base64."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verifies(key: rsa.RSAPrivateKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``key``'s SHA256withRSA over ``message``."""
    try:
        key.public_key().verify(
            base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def call(
    server: WinpayCounterpart,
    key: rsa.RSAPrivateKey,
    path: str,
    body: dict[str, Any],
    *,
    method: str = "POST",
    stamp: str | None = None,
    external_id: str | None = None,
    signed_method: str | None = None,
    drop: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """One RSA-signed request to the counterpart: HTTP status and JSON answer."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    stamp = stamp or stamp_now()
    headers = {
        "Content-Type": "application/json",
        "X-TIMESTAMP": stamp,
        "X-SIGNATURE": rsa_signature(
            key, string_to_sign(signed_method or method, path, raw, stamp)
        ),
        "X-PARTNER-ID": "PAYLINK",
        "X-EXTERNAL-ID": external_id or str(next(_ids)),
        "CHANNEL-ID": "WEB",
    }
    if drop:
        del headers[drop]
    response = httpx.request(method, server.base_url + path, content=raw, headers=headers)
    answer: dict[str, Any] = response.json()
    return response.status_code, answer


def va_request(trx_id: str, **changes: Any) -> dict[str, Any]:
    """A valid create-va body (one-off, BSI, Rp 15,000, tomorrow)."""
    tomorrow = datetime.now(JAKARTA) + timedelta(days=1)
    body: dict[str, Any] = {
        "customerNo": "000003212",
        "virtualAccountName": "Toko Budi Jaya",
        "trxId": trx_id,
        "totalAmount": {"value": "15000.00", "currency": "IDR"},
        "virtualAccountTrxType": "c",
        "expiredDate": tomorrow.isoformat(timespec="seconds"),
        "additionalInfo": {"channel": "BSI"},
    }
    return body | changes


def delete_request(va: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A delete-va body for a created VA (its number, trxId, contractId and channel)."""
    return {
        "virtualAccountNo": va["virtualAccountNo"],
        "trxId": va["trxId"],
        "additionalInfo": {
            "contractId": va["additionalInfo"]["contractId"],
            "channel": va["additionalInfo"]["channel"],
        },
    } | changes


def status_request(va: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A status inquiry body for a created VA (as the PHP library sends it: delete-va's,
    with the trxId again in ``additionalInfo``)."""
    body = delete_request(va)
    body["additionalInfo"]["trxId"] = va["trxId"]
    return body | changes


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def merchant(merchant_key: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    """The merchant's key pair (the session's): the counterpart checks our signatures."""
    return merchant_key


@pytest.fixture
def provider(winpay_key: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    """Winpay's key pair (the session's): the counterpart signs with it."""
    return winpay_key


@pytest.fixture
def server(merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey) -> Iterator[WinpayCounterpart]:
    with WinpayCounterpart(merchant.public_key(), provider) as running:
        yield running


def create(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, trx_id: str, **changes: Any
) -> dict[str, Any]:
    """Create a VA; its virtualAccountData."""
    status, answer = call(server, merchant, CREATE, va_request(trx_id, **changes))
    assert (status, answer["responseCode"]) == (200, "2002700"), answer
    data: dict[str, Any] = answer["virtualAccountData"]
    return data


# -- create-va ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["partnerServiceId", "virtualAccountNo"])
def test_create_va_refuses_a_request_carrying_a_merchant_side_va_number(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, field: str
) -> None:
    body = va_request("INV-OLD-1", **{field: "    9042"})
    status, answer = call(server, merchant, CREATE, body)
    assert (status, answer) == (
        400,
        {"responseCode": "4002701", "responseMessage": f"Invalid Field Format {field}"},
    )
    assert server.vas == {}
    assert server.refused == ["4002701"]


@pytest.mark.parametrize("name", ["Kopi & Teh Bu Sri's", "Warung Kafé", "Abc", "A" * 25])
def test_create_va_refuses_a_name_outside_letters_digits_underscore_dash_space(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, name: str
) -> None:
    status, answer = call(
        server, merchant, CREATE, va_request("INV-NAME-1", virtualAccountName=name)
    )
    assert (status, answer["responseCode"]) == (400, "4002701")
    assert answer["responseMessage"] == "Invalid Field Format virtualAccountName"


def test_create_va_answers_a_bin_padded_va_with_a_customer_no_of_its_own(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-CIMB-1", additionalInfo={"channel": "CIMB"})
    assert va["partnerServiceId"] == "   22691" == BINS["CIMB"].rjust(8)
    assert va["customerNo"] != "000003212"
    assert va["customerNo"].isdigit()
    assert va["virtualAccountNo"] == "   22691" + va["customerNo"]
    assert va["additionalInfo"]["channel"] == "CIMB"
    assert len(va["additionalInfo"]["contractId"]) > 8
    assert va["totalAmount"] == {"value": "15000.00", "currency": "IDR"}
    assert va["virtualAccountTrxType"] == "c"
    assert server.vas["INV-CIMB-1"] == va
    assert BINS["BSI"] == "9042"
    other = create(server, merchant, "INV-BSI-1", customerNo=va["customerNo"])
    assert other["partnerServiceId"] == "    9042"
    assert other["customerNo"] != va["customerNo"]


def test_create_va_without_customer_no_is_fine_for_a_one_off_va(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    body = va_request("INV-NOCUST")
    del body["customerNo"]
    status, answer = call(server, merchant, CREATE, body)
    assert (status, answer["responseCode"]) == (200, "2002700")


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"trxId": "INV 1"}, "4002701", "Invalid Field Format trxId"),
        ({"virtualAccountTrxType": "o"}, "4002701", "Invalid Field Format virtualAccountTrxType"),
        ({"additionalInfo": {"channel": "OVO"}}, "4002701", None),
        ({"totalAmount": {"value": "15000", "currency": "IDR"}}, "4002701", None),
        ({"customerNo": "12"}, "4002701", "Invalid Field Format customerNo"),
        ({"expiredDate": "2030-01-01T00:00:00Z"}, "4002701", None),
        ({"totalAmount": None}, "4002702", "Invalid Mandatory Field totalAmount"),
        ({"virtualAccountName": ""}, "4002702", "Invalid Mandatory Field virtualAccountName"),
    ],
)
def test_create_va_refuses_what_winpay_documents_as_invalid(
    server: WinpayCounterpart,
    merchant: rsa.RSAPrivateKey,
    changes: dict[str, Any],
    code: str,
    message: str | None,
) -> None:
    body = va_request("INV-BAD-1", additionalInfo={"channel": "BRI"}) | changes
    body = {k: v for k, v in body.items() if v is not None}
    status, answer = call(server, merchant, CREATE, body)
    assert (status, answer["responseCode"]) == (int(code[:3]), code), answer
    if message:
        assert answer["responseMessage"] == message


def test_a_duplicate_trx_id_is_a_conflict(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    create(server, merchant, "INV-DUP-1")
    status, answer = call(server, merchant, CREATE, va_request("INV-DUP-1"))
    assert (status, answer["responseCode"]) == (409, "4092701")


def test_inquiry_va_answers_the_va_as_create_did(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-INQ-1")
    ask = {
        "trxId": "INV-INQ-1",
        "additionalInfo": {"contractId": va["additionalInfo"]["contractId"]},
    }
    status, answer = call(server, merchant, "/v1.0/transfer-va/inquiry-va", ask)
    assert (status, answer["responseCode"], answer["virtualAccountData"]) == (200, "2003000", va)
    ask["trxId"] = "INV-NOPE-1"
    status, answer = call(server, merchant, "/v1.0/transfer-va/inquiry-va", ask)
    assert (status, answer["responseCode"]) == (404, "4043001")


# -- status ---------------------------------------------------------------------------------


def test_status_answers_without_spaces_and_without_paid_amount(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-1", additionalInfo={"channel": "CIMB"})
    contract = va["additionalInfo"]["contractId"]
    status, unpaid = call(server, merchant, STATUS, status_request(va))
    assert status == 200
    assert unpaid == {
        "responseCode": "2002600",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "virtualAccountNo": "22691" + va["customerNo"],
            "virtualAccountName": "Toko Budi Jaya",
            "paymentFlagStatus": "01",
            "transactionDate": "",
            "referenceNo": "",
            "totalAmount": {"value": "15000.00", "currency": "IDR"},
        },
        "additionalInfo": {"contractId": contract, "channel": "CIMB", "trxId": "INV-STAT-1"},
    }
    before = datetime.now(UTC).replace(microsecond=0)
    reference = server.pay("INV-STAT-1")
    status, paid = call(server, merchant, STATUS, status_request(va))
    data = paid["virtualAccountData"]
    assert list(paid) == ["responseCode", "responseMessage", "virtualAccountData", "additionalInfo"]
    assert list(data) == [
        "virtualAccountNo",
        "virtualAccountName",
        "paymentFlagStatus",
        "transactionDate",
        "referenceNo",
        "totalAmount",
    ]
    assert (data["paymentFlagStatus"], data["referenceNo"]) == ("00", reference)
    assert data["transactionDate"].endswith("+00:00")
    assert before <= datetime.fromisoformat(data["transactionDate"]) <= datetime.now(UTC)
    assert data["totalAmount"] == {"value": "15000.00", "currency": "IDR"}
    assert paid["additionalInfo"] == unpaid["additionalInfo"]


def test_status_accepts_the_va_number_without_spaces(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-2")
    body = status_request(va, virtualAccountNo=va["virtualAccountNo"].strip())
    status, answer = call(server, merchant, STATUS, body)
    assert (status, answer["responseCode"]) == (200, "2002600")


def test_status_flags_force_a_check_answer(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-3")
    server.pay("INV-STAT-3")
    server.status_flags["INV-STAT-3"] = "02"
    _, answer = call(server, merchant, STATUS, status_request(va))
    assert answer["virtualAccountData"]["paymentFlagStatus"] == "02"
    assert answer["virtualAccountData"]["referenceNo"] == ""


@pytest.mark.parametrize(
    ("change", "http", "code", "message"),
    [
        ("no contract", 400, "4002602", "Invalid Mandatory Field additionalInfo.contractId"),
        ("other contract", 500, "5002602", "Invalid contractId"),
        ("other trx", 404, "4042601", "Transaction Not Found"),
        ("other number", 404, "4042601", "Transaction Not Found"),
    ],
)
def test_status_refusals_carry_winpays_codes(
    server: WinpayCounterpart,
    merchant: rsa.RSAPrivateKey,
    change: str,
    http: int,
    code: str,
    message: str,
) -> None:
    va = create(server, merchant, "INV-STAT-4")
    body = status_request(va)
    if change == "no contract":
        del body["additionalInfo"]["contractId"]
    elif change == "other contract":
        body["additionalInfo"]["contractId"] = "ci" + "0" * 30
    elif change == "other trx":
        body["trxId"] = body["additionalInfo"]["trxId"] = "INV-STAT-X"
    else:
        body["virtualAccountNo"] = "    904212345678901"
    status, answer = call(server, merchant, STATUS, body)
    assert (status, answer) == (http, {"responseCode": code, "responseMessage": message})


def test_status_is_answered_to_get_and_post_and_records_the_method(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-5")
    for method in ("GET", "POST"):
        status, answer = call(server, merchant, STATUS, status_request(va), method=method)
        assert (status, answer["responseCode"]) == (200, "2002600")
    assert [(m, p) for m, p, _, _ in server.calls] == [
        ("POST", CREATE),
        ("GET", STATUS),
        ("POST", STATUS),
    ]
    assert [p for p, _, _ in server.requests] == [CREATE, STATUS, STATUS]


def test_a_get_signed_as_post_is_refused(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-6")
    status, answer = call(
        server, merchant, STATUS, status_request(va), method="GET", signed_method="POST"
    )
    assert (status, answer["responseCode"]) == (401, "4012600")


def test_fail_status_answers_a_general_error(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-STAT-7")
    server.fail_status = True
    status, answer = call(server, merchant, STATUS, status_request(va))
    assert (status, answer) == (
        500,
        {"responseCode": "5002600", "responseMessage": "General Error"},
    )


def test_an_open_va_takes_many_payments_and_status_tells_the_latest(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-OPEN-1", virtualAccountTrxType="o")
    first = server.pay("INV-OPEN-1", amount="20000.00")
    second = server.pay("INV-OPEN-1", amount="30000.00", reference_no="50966")
    assert (first != second, second) == (True, "50966")
    _, answer = call(server, merchant, STATUS, status_request(va))
    data = answer["virtualAccountData"]
    assert (data["referenceNo"], data["totalAmount"]["value"]) == ("50966", "30000.00")
    assert [p.reference_no for p in server.va_states["INV-OPEN-1"].payments] == [first, second]


def test_a_one_off_va_is_paid_once(server: WinpayCounterpart, merchant: rsa.RSAPrivateKey) -> None:
    create(server, merchant, "INV-ONCE-1")
    server.pay("INV-ONCE-1")
    with pytest.raises(ValueError, match="already paid"):
        server.pay("INV-ONCE-1")


# -- delete ---------------------------------------------------------------------------------


def test_delete_va_takes_http_delete_and_refuses_post(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    body = delete_request(create(server, merchant, "INV-DEL-1"))
    status, answer = call(server, merchant, DELETE, body)
    assert (status, answer) == (
        405,
        {"responseCode": "4053100", "responseMessage": "Method Not Allowed"},
    )
    assert server.deleted == set()
    status, answer = call(server, merchant, DELETE, body, method="DELETE")
    assert (status, answer["responseCode"]) == (200, "2003100")
    assert server.deleted == {"INV-DEL-1"}
    with pytest.raises(ValueError, match="deleted"):
        server.pay("INV-DEL-1")
    status, answer = call(server, merchant, DELETE, body, method="DELETE")
    assert (status, answer["responseCode"]) == (404, "4043101")


def test_delete_with_another_contract_id_is_not_found(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    another_contract = {"contractId": "ci" + "1" * 30, "channel": "BSI"}
    body = delete_request(create(server, merchant, "INV-DEL-2"), additionalInfo=another_contract)
    status, answer = call(server, merchant, DELETE, body, method="DELETE")
    assert (status, answer["responseCode"]) == (404, "4043101")
    assert server.deleted == set()


# -- QRIS and e-wallet ------------------------------------------------------------------------


def test_qris_generate_then_query_initiated_paid_and_failed(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    made = {}
    for ref in ("QR-ORDER-1", "QR-ORDER-2"):
        body = {"partnerReferenceNo": ref, "amount": {"value": "25000.00", "currency": "IDR"}}
        status, made[ref] = call(server, merchant, "/v1.0/qr/qr-mpm-generate", body)
        assert (status, made[ref]["responseCode"]) == (200, "2004700")
        assert made[ref]["partnerReferenceNo"] == ref
        assert made[ref]["referenceNo"].startswith("QR")
        assert "540525000" in made[ref]["qrContent"]

    def query(ref: str) -> dict[str, Any]:
        body = {
            "originalReferenceNo": made[ref]["referenceNo"],
            "originalPartnerReferenceNo": ref,
            "serviceCode": "47",
        }
        status, answer = call(server, merchant, "/v1.0/qr/qr-mpm-query", body)
        assert (status, answer["responseCode"]) == (200, "2005100"), answer
        return answer

    assert query("QR-ORDER-1")["latestTransactionStatus"] == "01"
    assert "paidTime" not in query("QR-ORDER-1")
    assert server.pay_qris("QR-ORDER-1") == made["QR-ORDER-1"]["referenceNo"]
    paid = query("QR-ORDER-1")
    assert (paid["latestTransactionStatus"], paid["transactionStatusDesc"]) == ("00", "Success")
    assert paid["paidTime"].endswith("+07:00")
    assert paid["amount"] == {"value": "25000.00", "currency": "IDR"}
    assert (paid["serviceCode"], paid["additionalInfo"]) == ("47", {})
    server.fail_qris("QR-ORDER-2")
    assert query("QR-ORDER-2")["latestTransactionStatus"] == "06"
    body = {
        "originalReferenceNo": "QR1",
        "originalPartnerReferenceNo": "QR-NONE",
        "serviceCode": "47",
    }
    status, answer = call(server, merchant, "/v1.0/qr/qr-mpm-query", body)
    assert (status, answer["responseCode"]) == (404, "4045101")


def test_ewallet_payment_redirects_to_a_page_and_status_follows_it(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    body = {
        "partnerReferenceNo": "EW-ORDER-1",
        "amount": {"value": "50000.00", "currency": "IDR"},
        "urlParams": [{"url": "http://127.0.0.1/back", "type": "PAY_RETURN", "isDeeplink": "N"}],
        "additionalInfo": {"channel": "DANA"},
    }
    status, made = call(server, merchant, "/v1.0/debit/payment-host-to-host", body)
    assert (status, made["responseCode"]) == (200, "2005400")
    assert made["webRedirectUrl"] == f"{server.base_url}/ewallet/{made['referenceNo']}"
    assert made["additionalInfo"] == {"channel": "DANA"}
    page = httpx.get(made["webRedirectUrl"])
    assert page.status_code == 200
    assert "DANA" in page.text
    ask = {
        "originalPartnerReferenceNo": "EW-ORDER-1",
        "originalReferenceNo": made["referenceNo"],
        "serviceCode": "54",
    }
    _, before = call(server, merchant, "/v1.0/debit/status", ask)
    assert (before["responseCode"], before["latestTransactionStatus"]) == ("2005500", "01")
    server.pay_ewallet("EW-ORDER-1")
    _, after = call(server, merchant, "/v1.0/debit/status", ask)
    assert (after["latestTransactionStatus"], after["serviceCode"]) == ("00", "54")
    assert after["paidTime"].endswith("+07:00")
    assert after["amount"] == {"value": "50000.00", "currency": "IDR"}
    status, answer = call(
        server, merchant, "/v1.0/debit/status", ask | {"originalReferenceNo": "X"}
    )
    assert (status, answer["responseCode"]) == (404, "4045501")
    other = body | {"partnerReferenceNo": "EW-ORDER-2", "additionalInfo": {"channel": "GOPAY"}}
    status, answer = call(server, merchant, "/v1.0/debit/payment-host-to-host", other)
    assert (status, answer["responseCode"]) == (400, "4005401")


# -- authentication --------------------------------------------------------------------------


def test_requests_are_authenticated_as_snap_says(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey
) -> None:
    body = va_request("INV-AUTH-1")
    stale = (datetime.now(JAKARTA) - timedelta(minutes=6)).isoformat(timespec="seconds")
    assert call(server, merchant, CREATE, body, drop="CHANNEL-ID")[1]["responseCode"] == "4002702"
    assert call(server, merchant, CREATE, body, stamp=stale)[1]["responseCode"] == "4012700"
    assert call(server, provider, CREATE, body)[1]["responseCode"] == "4012700"
    assert call(server, merchant, CREATE, body, external_id="abc")[1]["responseCode"] == "4002701"
    uuid_id = str(uuid.uuid4())
    millis = stamp_now(millis=True)
    assert call(server, merchant, CREATE, body, external_id=uuid_id, stamp=millis)[0] == 200
    again = call(server, merchant, CREATE, va_request("INV-AUTH-2"), external_id=uuid_id)
    assert again == (409, {"responseCode": "4092700", "responseMessage": "Conflict"})
    assert call(server, merchant, "/v1.0/nowhere", body)[0] == 404


def test_the_generic_snap_scheme_signs_with_the_token_and_the_real_method(
    merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey
) -> None:
    with WinpayCounterpart(
        merchant.public_key(), provider, client_key="KEY-1", client_secret=SECRET
    ) as server:
        stamp = stamp_now()
        token_headers = {
            "Content-Type": "application/json",
            "X-TIMESTAMP": stamp,
            "X-CLIENT-KEY": "KEY-1",
            "X-SIGNATURE": rsa_signature(merchant, f"KEY-1|{stamp}".encode()),
        }
        got = httpx.post(
            server.base_url + "/v1.0/access-token/b2b",
            json={"grantType": "client_credentials"},
            headers=token_headers,
        )
        assert got.json()["responseCode"] == "2007300"
        token = got.json()["accessToken"]
        raw = json.dumps(va_request("INV-HMAC-1"), separators=(",", ":")).encode()
        message = f"POST:{CREATE}:{token}:{hashlib.sha256(raw).hexdigest()}:{stamp}".encode()
        signature = base64.b64encode(
            hmac.new(SECRET.encode(), message, hashlib.sha512).digest()
        ).decode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-TIMESTAMP": stamp,
            "X-SIGNATURE": signature,
            "X-PARTNER-ID": "PAYLINK",
            "X-EXTERNAL-ID": str(uuid.uuid4()),
            "CHANNEL-ID": "WEB",
        }
        created = httpx.post(server.base_url + CREATE, content=raw, headers=headers)
        assert created.json()["responseCode"] == "2002700"
        refused = httpx.request(
            "DELETE",
            server.base_url + DELETE,
            content=raw,
            headers=headers | {"X-EXTERNAL-ID": str(uuid.uuid4())},
        )
        assert refused.json()["responseCode"] == "4013100", "signed as POST, sent as DELETE"


# -- callbacks -------------------------------------------------------------------------------


def test_va_callback_is_signed_over_the_relative_path_and_the_paid_reference(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-CB-1")
    reference = server.pay("INV-CB-1")
    body = va_payment_body(va, "45539")
    assert body["referenceNo"] == reference
    assert body["paidAmount"] == {"value": "15000.00", "currency": "IDR"}
    assert body["partnerServiceId"] == "    9042"
    assert body["virtualAccountNo"] == va["virtualAccountNo"]
    assert body["additionalInfo"] == va["additionalInfo"]
    _, status = call(server, merchant, STATUS, status_request(va))
    assert status["virtualAccountData"]["referenceNo"] == reference
    headers, raw = server.callback(body, stamp=datetime.now(JAKARTA))
    stamp = headers["X-TIMESTAMP"]
    assert rsa_verifies(
        provider, string_to_sign("POST", VA_PAYMENT_PATH, raw, stamp), headers["X-SIGNATURE"]
    )
    prefixed = "/channels/winpay" + VA_PAYMENT_PATH
    assert not rsa_verifies(
        provider, string_to_sign("POST", prefixed, raw, stamp), headers["X-SIGNATURE"]
    )


def test_a_pretty_callback_verifies_on_the_minified_body_not_the_raw_bytes(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-CB-2")
    body = va_payment_body(va, "45540", millis=True)
    headers, raw = server.callback(
        body, stamp=datetime.now(JAKARTA), pretty=True, millis=True, drop=("CHANNEL-ID",)
    )
    assert b"\n  " in raw
    assert "CHANNEL-ID" not in headers
    stamp = headers["X-TIMESTAMP"]
    assert len(stamp) == len("2024-01-11T08:57:55.123+07:00")
    assert "." in body["trxDateTime"]
    remade = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    signature = headers["X-SIGNATURE"]
    assert rsa_verifies(provider, string_to_sign("POST", VA_PAYMENT_PATH, remade, stamp), signature)
    assert not rsa_verifies(
        provider, string_to_sign("POST", VA_PAYMENT_PATH, raw, stamp), signature
    )


def test_va_callback_amounts_come_plain_or_decimal_and_with_fees(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey
) -> None:
    va = create(server, merchant, "INV-CB-3")
    plain = va_payment_body(va, "45541", amount_style="plain", fees=True, reference_no="R-1")
    assert plain["paidAmount"] == {"value": "15000", "currency": "IDR"}
    assert plain["feeAmount"] == {"value": "4000", "currency": "IDR"}
    assert plain["nettAmount"] == {"value": "11000", "currency": "IDR"}
    assert plain["referenceNo"] == "R-1"
    unpaid = va_payment_body(va, "45541", "5000.00")
    assert (unpaid["paidAmount"]["value"], unpaid["referenceNo"]) == ("5000.00", "45541")
    assert "feeAmount" not in unpaid


def test_notify_posts_signed_callbacks_under_the_merchant_base(
    server: WinpayCounterpart, merchant: rsa.RSAPrivateKey, provider: rsa.RSAPrivateKey
) -> None:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Receiver(QuietHandler):
        def do_POST(self) -> None:
            received.append((self.path, dict(self.headers.items()), self.body()))
            self.reply(200, b'{"responseCode":"2002500","responseMessage":"Successful"}')

    with LoopbackServer(Receiver) as merchant_site:
        base = f"{merchant_site.base_url}/channels/winpay"
        qr = {"partnerReferenceNo": "QR-CB-1", "amount": {"value": "25000.00", "currency": "IDR"}}
        call(server, merchant, "/v1.0/qr/qr-mpm-generate", qr)
        server.pay_qris("QR-CB-1")
        qris = server.notify_body("qris", "QR-CB-1")
        assert server.notify(base, qris, path=QRIS_NOTIFY_PATH, external_id="7001") == (
            200,
            {"responseCode": "2002500", "responseMessage": "Successful"},
        )
        ew = {
            "partnerReferenceNo": "EW-CB-1",
            "amount": {"value": "50000.00", "currency": "IDR"},
            "urlParams": [{"url": "http://127.0.0.1/b", "type": "PAY_RETURN", "isDeeplink": "N"}],
            "additionalInfo": {"channel": "OVO"},
        }
        call(server, merchant, "/v1.0/debit/payment-host-to-host", ew)
        wallet = server.notify_body("ewallet", "EW-CB-1")
        server.notify(base, wallet, path=EWALLET_NOTIFY_PATH, external_id="7002")
    assert [path for path, _, _ in received] == [
        "/channels/winpay/v1.0/qr/qr-mpm-notify",
        "/channels/winpay/v1.0/debit/notify",
    ]
    for (_, headers, raw), path in zip(
        received, (QRIS_NOTIFY_PATH, EWALLET_NOTIFY_PATH), strict=True
    ):
        message = string_to_sign("POST", path, raw, headers["X-TIMESTAMP"])
        assert rsa_verifies(provider, message, headers["X-SIGNATURE"])
    assert json.loads(received[0][2]) == qris
    assert qris["originalReferenceNo"] == server.qris["QR-CB-1"].reference_no
    assert (qris["latestTransactionStatus"], qris["transactionStatusDesc"]) == ("00", "Success")
    assert qris["additionalInfo"]["paidTime"].endswith("+07:00")
    assert wallet["additionalInfo"]["channel"] == "OVO"
    assert wallet["amount"] == {"value": "50000.00", "currency": "IDR"}

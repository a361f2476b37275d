"""The SNAP client against a local Winpay counterpart that checks our signatures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.channels.qris import parse_tlv
from paylink_es.channels.snap import (
    WIB,
    RsaSigner,
    SnapClient,
    create_va_body,
)
from paylink_es.channels.snap_codes import (
    SnapRequestRejectedError,
    SnapUnreachableError,
)
from paylink_es.errors import InvalidFieldError
from paylink_es.money import Money
from tests.channels.snap_counterpart import WinpayCounterpart, private_pem


def wib_now() -> datetime:
    return datetime.now(WIB)


def make_client(base_url: str, signer: RsaSigner) -> SnapClient:
    return SnapClient(
        base_url=base_url, partner_id="PAYLINK", channel_id="WEB", signer=signer, clock=wib_now
    )


@pytest.fixture
def client(counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey) -> Iterator[SnapClient]:
    with make_client(counterpart.base_url, RsaSigner.from_pem(private_pem(merchant_key))) as c:
        yield c


def create(client: SnapClient, trx_id: str = "INV-0001", method: str = "va_bri") -> None:
    client.create_va(
        partner_service_id="9042",
        customer_no="00000009",
        name="Paylink customer",
        trx_id=trx_id,
        amount=Money(10_000, "IDR"),
        method=method,
        expires_at=wib_now() + timedelta(days=1),
    )


def test_creates_a_virtual_account_with_the_padded_service_id(
    client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    va = client.create_va(
        partner_service_id="9042",
        customer_no="00000009",
        name="Paylink customer",
        trx_id="INV-0001",
        amount=Money(10_000, "IDR"),
        method="va_mandiri",
        expires_at=wib_now() + timedelta(hours=2),
    )
    assert va.partner_service_id == "    9042"
    assert va.virtual_account_no == "    904200000009"
    assert va.amount == Money(10_000, "IDR")
    assert va.channel == "MANDIRI"
    assert va.contract_id == "ci00000000"
    _, headers, sent = counterpart.requests[0]
    assert sent["totalAmount"] == {"value": "10000.00", "currency": "IDR"}
    assert sent["virtualAccountTrxType"] == "c"
    assert sent["expiredDate"].endswith("+07:00")
    assert headers["X-PARTNER-ID"] == "PAYLINK"
    assert headers["CHANNEL-ID"] == "WEB"


def test_a_tampered_signature_is_rejected_as_unauthorized(
    counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey
) -> None:
    class Tampering(RsaSigner):
        def sign(self, method: str, path: str, body: bytes, timestamp: str) -> str:
            signature = super().sign(method, path, body, timestamp)
            return ("B" if signature[0] == "A" else "A") + signature[1:]

    with (
        make_client(counterpart.base_url, Tampering(merchant_key)) as client,
        pytest.raises(SnapRequestRejectedError) as caught,
    ):
        create(client)
    assert (caught.value.response_code, caught.value.http_status) == ("4012700", 401)
    assert counterpart.vas == {}


def test_a_key_the_provider_does_not_know_is_rejected(
    counterpart: WinpayCounterpart, winpay_key: rsa.RSAPrivateKey
) -> None:
    with (
        make_client(counterpart.base_url, RsaSigner(winpay_key)) as client,
        pytest.raises(SnapRequestRejectedError) as caught,
    ):
        client.generate_qris(partner_reference_no="QR-00001", amount=Money(5_000, "IDR"))
    assert caught.value.response_code == "4014700"


def test_a_duplicate_trx_id_is_a_typed_conflict(client: SnapClient) -> None:
    create(client, "INV-DUP-1")
    with pytest.raises(SnapRequestRejectedError) as caught:
        create(client, "INV-DUP-1")
    assert caught.value.response_code == "4092701"
    assert caught.value.http_status == 409


def test_status_says_unpaid_then_paid_with_the_amount(
    client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    create(client, "INV-STAT-1")
    ask = {"partner_service_id": "9042", "customer_no": "00000009", "trx_id": "INV-STAT-1"}
    before = client.inquire_status(**ask)
    counterpart.pay("INV-STAT-1")
    after = client.inquire_status(**ask)
    assert (before.paid, before.paid_amount) == (False, None)
    assert (after.paid, after.paid_amount) == (True, Money(10_000, "IDR"))


def test_status_of_an_unknown_account_is_rejected_with_its_code(client: SnapClient) -> None:
    with pytest.raises(SnapRequestRejectedError) as caught:
        client.inquire_status(partner_service_id="9042", customer_no="123", trx_id="NOPE-1")
    assert caught.value.response_code == "4042601"


def test_generates_a_qris_for_the_amount(client: SnapClient) -> None:
    code = client.generate_qris(
        partner_reference_no="QR-000123",
        amount=Money(25_000, "IDR"),
        validity_period=wib_now() + timedelta(minutes=30),
    )
    assert parse_tlv(code.qr_content)["54"] == "25000"
    assert code.partner_reference_no == "QR-000123"
    assert code.reference_no is not None


def test_every_request_carries_a_fresh_numeric_external_id(
    client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    for index in range(5):
        create(client, f"INV-MANY-{index}")
    ids = [headers["X-EXTERNAL-ID"] for _, headers, _ in counterpart.requests]
    assert len(set(ids)) == 5
    assert all(i.isdigit() for i in ids)


def test_an_unreachable_provider_is_a_typed_error(merchant_key: rsa.RSAPrivateKey) -> None:
    with WinpayCounterpart(merchant_key.public_key(), merchant_key) as gone:
        url = gone.base_url
    with make_client(url, RsaSigner(merchant_key)) as client, pytest.raises(SnapUnreachableError):
        create(client)


NOW = datetime(2024, 1, 11, 9, 0, tzinfo=WIB)
GOOD = {
    "partner_service_id": "9042",
    "customer_no": "00000009",
    "name": "Paylink customer",
    "trx_id": "INV-0001",
    "amount": Money(10_000, "IDR"),
    "method": "va_bni",
    "expires_at": NOW + timedelta(days=1),
    "now": NOW,
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_no": "12"}, "customerNo"),
        ({"customer_no": "123456789012345"}, "customerNo"),
        ({"customer_no": "12a45"}, "customerNo"),
        ({"name": "Budi"}, "virtualAccountName"),
        ({"name": "x" * 25}, "virtualAccountName"),
        ({"trx_id": "INV1"}, "trxId"),
        ({"trx_id": "x" * 51}, "trxId"),
        ({"partner_service_id": "123456789"}, "partnerServiceId"),
        ({"method": "qris"}, "method"),
        ({"expires_at": NOW + timedelta(seconds=30)}, "expiredDate"),
        ({"expires_at": NOW + timedelta(days=93)}, "expiredDate"),
        ({"expires_at": datetime(2024, 1, 12, 9, 0)}, "expiredDate"),  # noqa: DTZ001
        ({"trx_type": "x"}, "virtualAccountTrxType"),
    ],
)
def test_create_va_refuses_a_bad_field_naming_it(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        create_va_body(**{**GOOD, **change})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_create_va_body_matches_the_spec() -> None:
    body = create_va_body(**GOOD)  # type: ignore[arg-type]
    assert body == {
        "customerNo": "00000009",
        "virtualAccountName": "Paylink customer",
        "trxId": "INV-0001",
        "totalAmount": {"value": "10000.00", "currency": "IDR"},
        "virtualAccountTrxType": "c",
        "expiredDate": "2024-01-12T09:00:00+07:00",
        "additionalInfo": {"channel": "BNI"},
        "partnerServiceId": "    9042",
        "virtualAccountNo": "    904200000009",
    }


def test_expiry_three_months_ahead_is_allowed() -> None:
    body = create_va_body(**{**GOOD, "expires_at": datetime(2024, 4, 11, 9, 0, tzinfo=WIB)})  # type: ignore[arg-type]
    assert body["expiredDate"] == "2024-04-11T09:00:00+07:00"

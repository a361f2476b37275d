"""The channels behind the port: Winpay's adapter and settings against the counterpart,
the one verification pipeline over any channel, the sandbox's inquiry and refunds, the
durable X-EXTERNAL-ID store, and the registry the API builds them with."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from api.channel_registry import (
    ChannelNotConfiguredError,
    channel_for,
    channel_for_payment,
    channels_of,
    offered_methods,
)
from paylink_es.application.channel_port import (
    ChannelPort,
    ChannelStatus,
    Notification,
    NotificationMismatchError,
)
from paylink_es.application.details import PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import open_paylink
from paylink_es.bootstrap.adapters import build_channels, winpay_from_settings
from paylink_es.channels.registry import close_all
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.snap_callbacks import parse_va_payment
from paylink_es.channels.snap_codes import SnapRequestRejectedError
from paylink_es.channels.winpay import (
    NAME,
    EventSourcedSeenExternalIds,
    WinpayChannel,
)
from paylink_es.channels.winpay_api import PATH_CREATE_VA, PATH_DELETE_VA, PATH_VA_STATUS
from paylink_es.domain.aggregate import stable_id
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from paylink_es.settings import Settings
from tests.support.snap_counterpart import (
    BINS,
    WinpayCounterpart,
    check_once_per_day,
    private_pem,
    public_pem,
    va_payment_body,
)

IDR = "IDR"
VA_FIELDS = (
    "partner_service_id",
    "customer_no",
    "virtual_account_no",
    "contract_id",
    "trx_id",
    "va_trx_type",
    "winpay_channel",
)


@pytest.fixture
def configured(
    tmp_path: Path,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        winpay_base_url=counterpart.base_url,
        winpay_partner_id="PAYLINK",
        winpay_channel_id="PAYLINKWEB",
        winpay_private_key=SecretStr(private_pem(merchant_key)),
        winpay_public_key=public_pem(winpay_key),
    )


@pytest.fixture
def winpay(configured: Settings) -> Iterator[WinpayChannel]:
    channel = winpay_from_settings(configured)
    assert channel is not None
    yield channel
    channel.close()


def instructed(
    channel: ChannelPort, method: str, amount: int = 10_000, merchant: str = "Toko Budi"
) -> tuple[UUID, dict[str, str]]:
    """A new payment's id and the instructions ``channel`` made for it (``amount`` rupiah
    by ``method``, for ``merchant``)."""
    payment_id = uuid4()
    return payment_id, channel.instructions(payment_id, method, Money(amount, IDR), merchant)


def details(
    payment_id: UUID,
    method: str,
    instructions: dict[str, str],
    *,
    channel: str = NAME,
    mode: str = "live",
    amount: Money | None = None,
    channel_ref: str | None = None,
    received: Money | None = None,
) -> PaymentDetails:
    """A payment as the ledger would hand it to a channel."""
    due = amount or Money(10_000, IDR)
    return PaymentDetails(
        id=payment_id,
        merchant_id=uuid4(),
        mode=mode,
        link_id=uuid4(),
        method=method,
        channel=channel,
        status="initiated" if received is None else "paid",
        amount=due,
        received=received,
        channel_ref=channel_ref,
        paid_at=None,
        anomaly=None,
        disposition=None,
        fee=None,
        net=None,
        refunded=Money.zero(due.currency),
        rejection=None,
        instructions=instructions,
    )


# -- Winpay settings ---------------------------------------------------------------------


def test_winpay_is_off_until_its_base_url_is_set(tmp_path: Path) -> None:
    assert winpay_from_settings(Settings(data_dir=tmp_path)) is None


@pytest.mark.parametrize(
    ("unset", "blank"),
    [
        ("winpay_partner_id", ""),
        ("winpay_partner_id", "   "),
        ("winpay_channel_id", ""),
        ("winpay_private_key", None),
        ("winpay_public_key", None),
    ],
)
def test_a_missing_winpay_setting_is_named(configured: Settings, unset: str, blank: object) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(configured.model_copy(update={unset: blank}))
    assert caught.value.field == unset


def test_no_partner_service_id_is_configured_winpay_chooses_the_bin(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    assert "winpay_partner_service_id" not in Settings.model_fields
    made = winpay.instructions(uuid4(), "va_cimb", Money(10_000, IDR), "Toko Budi")
    assert made["partner_service_id"].strip() == BINS["CIMB"]


def test_a_bad_key_is_named_and_never_printed(
    configured: Settings, merchant_key: rsa.RSAPrivateKey, winpay_key: rsa.RSAPrivateKey
) -> None:
    pem = private_pem(merchant_key)
    broken = pem.replace(pem.splitlines()[3], "A" * 64)
    for bad in (broken, "garbage", public_pem(merchant_key)):
        with pytest.raises(InvalidFieldError) as caught:
            winpay_from_settings(
                configured.model_copy(update={"winpay_private_key": SecretStr(bad)})
            )
        assert caught.value.field == "winpay_private_key"
        shown = str(caught.value) + repr(caught.value)
        for line in pem.splitlines()[1:-1]:
            assert line not in shown
        assert "key" in caught.value.message
    for public in ("nope", private_pem(winpay_key), public_pem(winpay_key)[:120]):
        with pytest.raises(InvalidFieldError) as caught:
            winpay_from_settings(configured.model_copy(update={"winpay_public_key": public}))
        assert caught.value.field == "winpay_public_key"
        for line in private_pem(winpay_key).splitlines()[1:-1]:
            assert line not in str(caught.value)


def key_settings(merchant_key: rsa.RSAPrivateKey, winpay_key: rsa.RSAPrivateKey) -> list[Any]:
    """(private, public) settings in the other forms providers hand keys out in."""
    pkcs1 = merchant_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    private_der = base64.b64encode(
        merchant_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).decode()
    public_der = base64.b64encode(
        winpay_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    public_pkcs1 = (
        winpay_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    return [
        pytest.param(pkcs1, public_pkcs1, id="PKCS#1 PEM"),
        pytest.param(private_der, public_der, id="bare base64 DER"),
        pytest.param(
            private_pem(merchant_key).replace("\n", "\\n"),
            public_pem(winpay_key).replace("\n", "\\n"),
            id="one-line PEM",
        ),
    ]


def test_keys_in_every_form_configure_a_working_channel(
    configured: Settings,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> None:
    for param in key_settings(merchant_key, winpay_key):
        private, public = param.values
        channel = winpay_from_settings(
            configured.model_copy(
                update={"winpay_private_key": SecretStr(private), "winpay_public_key": public}
            )
        )
        assert channel is not None, param.id
        try:
            made = channel.instructions(uuid4(), "va_bsi", Money(10_000, IDR), "Toko Budi")
            assert made["virtual_account_no"], param.id  # the counterpart took our signature
            body = va_payment_body(counterpart.vas[made["trx_id"]], "1")
            now = datetime.now(WIB)
            headers, raw = counterpart.callback(body, stamp=now)
            assert channel.callbacks.authenticate(
                "POST", "/v1.0/transfer-va/payment", headers, raw, now
            )
        finally:
            channel.close()
    assert counterpart.refused == []


def test_keys_can_come_from_files_and_the_private_one_never_shows(
    configured: Settings, tmp_path: Path, merchant_key: rsa.RSAPrivateKey
) -> None:
    pem = private_pem(merchant_key)
    key_file = tmp_path / "ours.pem"
    key_file.write_text(pem)
    public_file = tmp_path / "winpay.pem"
    public_file.write_text(str(configured.winpay_public_key))
    from_files = configured.model_copy(
        update={
            "winpay_private_key": None,
            "winpay_private_key_path": key_file,
            "winpay_public_key": None,
            "winpay_public_key_path": public_file,
        }
    )
    channel = winpay_from_settings(from_files)
    assert channel is not None
    channel.close()
    secret_line = pem.splitlines()[2]
    assert secret_line not in repr(configured)
    assert secret_line not in repr(channel)
    assert secret_line not in repr(channel.api)
    assert secret_line not in repr(channel.api.client)
    missing = from_files.model_copy(update={"winpay_private_key_path": tmp_path / "absent.pem"})
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(missing)
    assert caught.value.field == "winpay_private_key_path"
    missing_public = from_files.model_copy(
        update={"winpay_public_key_path": tmp_path / "absent.pem"}
    )
    with pytest.raises(InvalidFieldError) as public:
        winpay_from_settings(missing_public)
    assert public.value.field == "winpay_public_key_path"


def test_the_status_method_is_a_setting_post_by_default(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert configured.winpay_status_method == "POST"
    monkeypatch.setenv("PAYLINK_WINPAY_STATUS_METHOD", "GET")
    assert Settings(data_dir=tmp_path).winpay_status_method == "GET"
    monkeypatch.setenv("PAYLINK_WINPAY_STATUS_METHOD", "PATCH")
    with pytest.raises(ValidationError) as caught:
        Settings(data_dir=tmp_path)
    assert "winpay_status_method" in str(caught.value)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_status_inquiry_goes_out_by_the_configured_method(
    configured: Settings, counterpart: WinpayCounterpart, method: str
) -> None:
    channel = winpay_from_settings(configured.model_copy(update={"winpay_status_method": method}))
    assert channel is not None
    try:
        assert channel.api.status_method == method
        payment_id, made = instructed(channel, "va_cimb")
        channel.inquire(details(payment_id, "va_cimb", made))
    finally:
        channel.close()
    ((used, body),) = counterpart.sent(PATH_VA_STATUS)
    assert used == method
    assert body == {
        "virtualAccountNo": made["virtual_account_no"],
        "trxId": made["trx_id"],
        "additionalInfo": {
            "contractId": made["contract_id"],
            "channel": "CIMB",
            "trxId": made["trx_id"],
        },
    }
    assert body["virtualAccountNo"] != made["va_number"]  # as given: with the BIN's spaces


def test_the_registry_builds_and_closes_every_configured_channel(
    tmp_path: Path, configured: Settings
) -> None:
    plain = build_channels(Settings(data_dir=tmp_path))
    assert list(plain) == ["sandbox"]
    built = build_channels(configured)
    assert sorted(built) == ["sandbox", "winpay"]
    assert built["winpay"].remote is True
    assert built["sandbox"].remote is False
    close_all(built)
    with pytest.raises(InvalidFieldError) as caught:
        build_channels(configured.model_copy(update={"winpay_public_key": "nope"}))
    assert caught.value.field == "winpay_public_key"


# -- Winpay adapter against the counterpart ------------------------------------------------


def test_instructions_asked_twice_create_one_va(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = uuid4()
    first = winpay.instructions(payment_id, "va_mandiri", Money(250000, IDR), "Toko Budi Jaya")
    again = winpay.instructions(payment_id, "va_mandiri", Money(250000, IDR), "Toko Budi Jaya")
    assert first == again
    assert len(counterpart.sent(PATH_CREATE_VA)) == 1
    va = counterpart.vas[str(payment_id)]
    assert va["virtualAccountName"] == "Toko Budi Jaya"
    assert first["va_number"] == va["virtualAccountNo"].replace(" ", "")
    assert first["bank"] == "Mandiri"
    assert first["family"] == "virtual_account"


def test_instructions_keep_winpays_create_answer_verbatim(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi", 75_000)
    ((method, body),) = counterpart.sent(PATH_CREATE_VA)
    assert method == "POST"
    assert "partnerServiceId" not in body
    assert "virtualAccountNo" not in body
    assert body["trxId"] == str(payment_id)
    va = counterpart.vas[str(payment_id)]
    assert made["partner_service_id"] == va["partnerServiceId"] == "    9042"
    assert made["customer_no"] == va["customerNo"]
    assert made["virtual_account_no"] == va["virtualAccountNo"]
    assert made["contract_id"] == va["additionalInfo"]["contractId"]
    assert made["trx_id"] == va["trxId"] == str(payment_id)
    assert made["va_trx_type"] == va["virtualAccountTrxType"] == "c"
    assert made["winpay_channel"] == va["additionalInfo"]["channel"] == "BSI"
    assert made["expires_at"] == datetime.fromisoformat(va["expiredDate"]).isoformat()
    assert set(VA_FIELDS) <= set(made)
    # Winpay chose the customerNo: nothing of ours is in it.
    assert made["customer_no"] not in str(payment_id).replace("-", "")


@pytest.mark.parametrize(
    ("merchant", "name"),
    [("Kopi & Teh Bu Sri's", "Kopi Teh Bu Sris"), ("Warung Kafé Ñoño", "Warung Kafe Nono")],
)
def test_merchant_names_winpay_would_refuse_still_get_a_va(
    winpay: WinpayChannel, counterpart: WinpayCounterpart, merchant: str, name: str
) -> None:
    payment_id, made = instructed(winpay, "va_bri", 20_000, merchant)
    assert counterpart.vas[str(payment_id)]["virtualAccountName"] == name
    assert made["va_number"]
    assert counterpart.refused == []


def test_retail_gets_a_payment_code_and_short_names_are_padded(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "retail_alfamart", 50000, "Abc")
    va = counterpart.vas[str(payment_id)]
    assert made["family"] == "retail"
    assert made["outlet"] == "Alfamart"
    assert made["payment_code"] == va["virtualAccountNo"].replace(" ", "")
    assert made["payment_code"].startswith(BINS["ALFAMART"])
    assert va["additionalInfo"]["channel"] == "ALFAMART"
    assert va["virtualAccountName"] == "Abc Paylink"


@pytest.mark.parametrize("method", ["card", "ewallet_linkaja"])
def test_a_method_winpay_does_not_offer_is_refused_before_any_call(
    winpay: WinpayChannel, counterpart: WinpayCounterpart, method: str
) -> None:
    assert not winpay.supports(method)
    with pytest.raises(InvalidFieldError) as caught:
        winpay.instructions(uuid4(), method, Money(10000, IDR), "Toko Budi")
    assert caught.value.field == "method"
    assert counterpart.calls == []


def test_winpay_offers_its_vas_retail_qris_and_three_ewallets(winpay: WinpayChannel) -> None:
    offered = [
        "va_bca",
        "va_bri",
        "va_bni",
        "va_mandiri",
        "va_permata",
        "va_bsi",
        "va_cimb",
        "va_muamalat",
        "va_sinarmas",
        "va_bnc",
        "retail_alfamart",
        "retail_indomaret",
        "qris",
        "ewallet_ovo",
        "ewallet_dana",
        "ewallet_shopeepay",
    ]
    assert all(winpay.supports(method) for method in offered)
    assert winpay.remote is True


def test_the_va_expires_at_the_link_expiry_when_winpay_accepts_it(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    soon = datetime.now(tz=UTC) + timedelta(hours=2)
    payment_id = uuid4()
    winpay.instructions(payment_id, "va_bni", Money(10000, IDR), "Toko Budi", expires_at=soon)
    stored = datetime.fromisoformat(counterpart.vas[str(payment_id)]["expiredDate"])
    assert stored == soon.replace(microsecond=0)
    past = uuid4()  # an expiry Winpay would refuse: the channel's own time to live
    winpay.instructions(
        past, "va_bni", Money(10000, IDR), "Toko Budi", expires_at=soon - timedelta(days=1)
    )
    later = datetime.fromisoformat(counterpart.vas[str(past)]["expiredDate"])
    assert timedelta(hours=23) < later - datetime.now(tz=UTC) <= timedelta(days=1)


def test_inquiry_says_not_yet_then_paid_with_winpays_amount(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bri", 150000)
    payment = details(payment_id, "va_bri", made, amount=Money(150000, IDR))
    before = winpay.inquire(payment)
    assert (before.paid, before.amount, before.channel_ref) == (False, None, None)
    assert before.final is False  # 01 unpaid: ask again, never a rejection
    assert "01" in before.detail
    reference_no = counterpart.pay(str(payment_id))
    after = winpay.inquire(payment)
    assert (after.paid, after.amount, after.final) == (True, Money(150000, IDR), True)
    assert after.channel_ref == str(payment_id)  # a one-off VA's money is its trxId
    assert "00" in after.detail
    assert reference_no in after.detail
    assert after.paid_at is not None
    assert abs(after.paid_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_check_status_is_not_final_either(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi")
    counterpart.pay(str(payment_id))
    counterpart.status_flags[str(payment_id)] = "02"
    status = winpay.inquire(details(payment_id, "va_bsi", made))
    assert (status.paid, status.final, status.amount) == (False, False, None)
    assert "02" in status.detail


def test_a_failing_status_inquiry_is_a_typed_error(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi")
    counterpart.fail_status = True
    with pytest.raises(SnapRequestRejectedError) as caught:
        winpay.inquire(details(payment_id, "va_bsi", made))
    assert caught.value.response_code == "5002600"


def test_a_payment_without_winpays_contract_cannot_be_inquired_about(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi")
    del made["contract_id"]
    with pytest.raises(InvalidFieldError) as caught:
        winpay.inquire(details(payment_id, "va_bsi", made))
    assert caught.value.field == "instructions"
    assert "contract_id" in caught.value.message
    assert counterpart.sent(PATH_VA_STATUS) == []


def test_withdrawing_a_va_deletes_it_by_http_delete(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi")
    winpay.withdraw(details(payment_id, "va_bsi", made))
    ((method, body),) = counterpart.sent(PATH_DELETE_VA)
    assert method == "DELETE"
    assert body == {
        "virtualAccountNo": made["virtual_account_no"],
        "trxId": made["trx_id"],
        "additionalInfo": {"contractId": made["contract_id"], "channel": "BSI"},
    }
    assert counterpart.deleted == {str(payment_id)}
    with pytest.raises(ValueError, match="deleted"):
        counterpart.pay(str(payment_id))


def test_qris_is_made_at_winpay_inquired_and_lapses_without_a_delete(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "qris", 25_000)
    transaction = counterpart.qris[str(payment_id)]
    assert made["family"] == "qris"
    assert made["qr_content"].startswith("000201")
    assert made["reference_no"] == transaction.reference_no
    assert made["partner_reference_no"] == str(payment_id)
    payment = details(payment_id, "qris", made, amount=Money(25_000, IDR))
    assert winpay.inquire(payment).final is False
    counterpart.pay_qris(str(payment_id))
    paid = winpay.inquire(payment)
    assert (paid.paid, paid.amount, paid.channel_ref) == (
        True,
        Money(25_000, IDR),
        transaction.reference_no,
    )
    calls = len(counterpart.calls)
    winpay.withdraw(payment)
    assert len(counterpart.calls) == calls


def test_an_ewallet_payment_needs_a_page_to_return_to(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        winpay.instructions(uuid4(), "ewallet_ovo", Money(30_000, IDR), "Toko Budi")
    assert caught.value.field == "return_url"
    payment_id = uuid4()
    made = winpay.instructions(
        payment_id,
        "ewallet_ovo",
        Money(30_000, IDR),
        "Toko Budi",
        return_url="http://127.0.0.1:9/l/abc",
    )
    assert (made["family"], made["wallet"], made["winpay_channel"]) == ("ewallet", "OVO", "OVO")
    assert made["redirect_url"].startswith(counterpart.base_url)
    counterpart.fail_ewallet(str(payment_id))
    failed = winpay.inquire(details(payment_id, "ewallet_ovo", made))
    assert (failed.paid, failed.final) == (False, True)


def test_winpay_refunds_are_manual_and_say_so(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    result = winpay.refund("trx/1", uuid4(), uuid4(), Money(10000, IDR))
    assert result.accepted is False
    assert "manual" in result.detail
    assert counterpart.calls == []


# -- Winpay notifications, bound to their payment -------------------------------------------


def notified(
    winpay: WinpayChannel, counterpart: WinpayCounterpart, trx_id: str, request_id: str = "45539"
) -> Notification:
    note = winpay.va_notification(
        parse_va_payment(va_payment_body(counterpart.vas[trx_id], request_id)), "100000000001"
    )
    assert note is not None
    return note


def test_a_va_notification_binds_to_its_payment_with_spaces_ignored(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bri")
    reference_no = counterpart.pay(str(payment_id))
    note = notified(winpay, counterpart, str(payment_id))
    assert (note.payment_id, note.channel_ref, note.amount) == (
        payment_id,
        str(payment_id),
        Money(10_000, IDR),
    )
    assert note.evidence["signature"] == "SHA256withRSA"
    assert note.evidence["reference_no"] == reference_no
    assert note.evidence["contract_id"] == made["contract_id"]
    assert note.evidence["external_id"] == "100000000001"
    unpadded = {**made, "virtual_account_no": made["va_number"]}  # as a status answer has it
    bound = winpay.bind(note, details(payment_id, "va_bri", unpadded))
    assert bound.channel_ref == str(payment_id)


def test_a_notification_that_does_not_fit_its_payment_is_a_mismatch(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, other_id = uuid4(), uuid4()
    made = winpay.instructions(payment_id, "va_bri", Money(10_000, IDR), "Toko Budi")
    other = winpay.instructions(other_id, "va_bri", Money(10_000, IDR), "Toko Budi")
    note = notified(winpay, counterpart, str(payment_id))
    cases = {
        "another VA": details(
            payment_id, "va_bri", {**made, "virtual_account_no": other["virtual_account_no"]}
        ),
        "another contract": details(payment_id, "va_bri", {**made, "contract_id": "ci-other"}),
        "not a Winpay payment": details(payment_id, "va_bri", made, channel="sandbox"),
    }
    for why, payment in cases.items():
        with pytest.raises(NotificationMismatchError) as caught:
            winpay.bind(note, payment)
        assert caught.value.reason, why


def test_a_recurring_vas_money_is_referenced_by_its_reference_no(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id, made = instructed(winpay, "va_bsi")
    recurring = {**made, "va_trx_type": "o"}
    note = winpay.va_notification(
        parse_va_payment(
            va_payment_body(counterpart.vas[str(payment_id)], "777", reference_no="R-777")
        ),
        "100000000002",
    )
    assert note is not None
    bound = winpay.bind(note, details(payment_id, "va_bsi", recurring))
    assert bound.channel_ref == f"{payment_id}/R-777"


def test_a_notification_whose_trx_id_is_not_ours_is_no_notification(
    winpay: WinpayChannel,
) -> None:
    body = va_payment_body(
        {
            "partnerServiceId": "    9042",
            "customerNo": "00000009",
            "virtualAccountNo": "    904200000009",
            "virtualAccountName": "Someone",
            "trxId": "INV-000000023220",
            "totalAmount": {"value": "10000.00", "currency": "IDR"},
            "additionalInfo": {"channel": "BSI", "contractId": "ci-unknown"},
        },
        "1",
    )
    assert winpay.va_notification(parse_va_payment(body), "1") is None


def test_a_qris_notification_binds_by_winpays_reference(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    from paylink_es.channels.snap_callbacks import parse_transaction_notice

    payment_id, made = instructed(winpay, "qris", 25_000)
    counterpart.pay_qris(str(payment_id))
    notice = parse_transaction_notice(counterpart.notify_body("qris", str(payment_id)), "52")
    received = datetime.now(UTC)
    note = winpay.transaction_notification(notice, "200000000001", received)
    assert note is not None
    assert (note.payment_id, note.channel_ref) == (payment_id, made["reference_no"])
    assert winpay.bind(note, details(payment_id, "qris", made)) == note
    with pytest.raises(NotificationMismatchError):
        winpay.bind(note, details(payment_id, "qris", {**made, "reference_no": "QR-OTHER"}))


# -- the one verification pipeline, with Winpay ----------------------------------------------


@pytest.fixture
def paylink() -> Iterator[Paylink]:
    """An in-memory ledger whose clock reads what the counterpart's does."""
    app = Paylink.open(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=FakeClock(datetime.now(UTC))
    )
    yield app
    app.close()


def winpay_payment(
    paylink: Paylink, winpay: WinpayChannel, method: str = "va_bri", amount: int = 150_000
) -> UUID:
    merchant = paylink.merchants.register("Toko Budi")
    link = paylink.links.create(
        merchant, mode="live", amount=amount, description="x", methods=[method], usage_limit=None
    )
    payment_id, made = instructed(winpay, method, amount)
    return paylink.payments.start(
        link, method, channel=NAME, instructions=made, payment_id=payment_id
    )


def test_a_paid_va_is_verified_once_whatever_number_of_notifications_report_it(
    paylink: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = winpay_payment(paylink, winpay)
    counterpart.pay(str(payment_id))
    pipeline = paylink.verification
    first = pipeline.process(winpay, notified(winpay, counterpart, str(payment_id), "45539"))
    assert (first.kind, first.duplicate, first.final) == ("verified", False, True)
    assert paylink.payments.get(payment_id).status == "verified"
    # Winpay notifies the same one-off VA again, with another paymentRequestId.
    second = pipeline.process(winpay, notified(winpay, counterpart, str(payment_id), "45540"))
    assert (second.kind, second.duplicate) == ("verified", True)
    assert paylink.payments.get(payment_id).received == Money(150_000, IDR)


@pytest.mark.parametrize("flag", ["01", "02"])
def test_a_not_yet_status_leaves_the_payment_pending_and_a_retry_verifies_it(
    paylink: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart, flag: str
) -> None:
    payment_id = winpay_payment(paylink, winpay)
    counterpart.pay(str(payment_id))
    counterpart.status_flags[str(payment_id)] = flag
    pipeline = paylink.verification
    waiting = pipeline.process(winpay, notified(winpay, counterpart, str(payment_id)))
    assert (waiting.kind, waiting.final) == ("pending", False)
    assert paylink.payments.get(payment_id).status == "paid"  # received, not rejected
    del counterpart.status_flags[str(payment_id)]
    retried = pipeline.process(winpay, notified(winpay, counterpart, str(payment_id)))
    assert retried.kind == "verified"


def test_a_notification_of_another_amount_is_rejected_for_its_amount(
    paylink: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = winpay_payment(paylink, winpay)
    counterpart.pay(str(payment_id))
    body = va_payment_body(counterpart.vas[str(payment_id)], "1", "15000.00")
    note = winpay.va_notification(parse_va_payment(body), "1")
    assert note is not None
    verdict = paylink.verification.process(winpay, note)
    assert (verdict.kind, verdict.amount_differs) == ("rejected", True)
    assert "150000" in (paylink.payments.get(payment_id).rejection or "")


def test_a_notification_for_another_va_or_no_payment_credits_nothing(
    paylink: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = winpay_payment(paylink, winpay)
    other = winpay.instructions(uuid4(), "va_bri", Money(150_000, IDR), "Toko Budi")
    body = va_payment_body(counterpart.vas[other["trx_id"]], "1")
    note = winpay.va_notification(parse_va_payment({**body, "trxId": str(payment_id)}), "1")
    assert note is not None
    assert paylink.verification.process(winpay, note).kind == "mismatch"
    stranger = Notification(uuid4(), "x", Money(1, IDR), datetime.now(UTC))
    assert paylink.verification.process(winpay, stranger).kind == "unknown"
    assert paylink.payments.get(payment_id).status == "initiated"


def test_a_lost_notification_is_found_by_asking(
    paylink: Paylink, winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = winpay_payment(paylink, winpay)
    pipeline = paylink.verification
    assert pipeline.discover(payment_id, winpay).kind == "pending"
    counterpart.pay(str(payment_id))
    found = pipeline.discover(payment_id, winpay)
    assert found.kind == "verified"
    assert paylink.payments.get(payment_id).received == Money(150_000, IDR)


# -- the sandbox's inquiry and refunds ------------------------------------------------------


def test_the_sandbox_inquiry_knows_only_its_own_references() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="http://127.0.0.1:9")
    payment_id, amount = uuid4(), Money(150000, IDR)
    ref = sandbox.reference(payment_id, amount)
    assert ref.startswith("SBX-")
    assert sandbox.inquire_reference(ref, payment_id, amount).paid
    assert sandbox.inquire_reference(ref, payment_id, amount).amount == amount
    follow_up = stable_id(f"/payments/sandbox/{ref}")  # money paid again to it
    assert sandbox.inquire_reference(ref, follow_up, amount).paid
    stranger = SandboxChannel(secret="other", base_url="")
    for why, (reference, pid, money) in {
        "another amount": (ref, payment_id, Money(15000, IDR)),
        "another payment": (ref, uuid4(), amount),
        "not issued": ("SBX-FORGED", payment_id, amount),
        "another secret": (stranger.reference(payment_id, amount), payment_id, amount),
        "mac altered": (ref[:-1] + ("0" if ref[-1] != "0" else "1"), payment_id, amount),
        "garbage": ("SBX-zz-zz-zz", payment_id, amount),
    }.items():
        status = sandbox.inquire_reference(reference, pid, money)
        assert (status.paid, status.amount, status.final) == (False, None, True), why


def test_the_sandbox_inquires_about_a_payment_by_what_it_received() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="")
    payment_id, amount = uuid4(), Money(5000, IDR)
    waiting = sandbox.inquire(details(payment_id, "va_bca", {}, channel="sandbox", mode="test"))
    assert (waiting.paid, waiting.final) == (False, False)
    ref = sandbox.reference(payment_id, amount)
    paid = sandbox.inquire(
        details(
            payment_id,
            "va_bca",
            {},
            channel="sandbox",
            mode="test",
            channel_ref=ref,
            received=amount,
        )
    )
    assert (paid.paid, paid.amount, paid.channel_ref) == (True, amount, ref)


def test_the_sandbox_binds_only_its_own_test_payments() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="")
    payment_id = uuid4()
    note = Notification(payment_id, "SBX-1", Money(5000, IDR), datetime.now(UTC))
    test_payment = details(payment_id, "va_bca", {}, channel="sandbox", mode="test")
    assert sandbox.bind(note, test_payment) is note
    for payment in (
        details(payment_id, "va_bca", {}, channel="sandbox", mode="live"),
        details(payment_id, "va_bca", {}, channel="winpay", mode="test"),
    ):
        with pytest.raises(NotificationMismatchError):
            sandbox.bind(note, payment)
    sandbox.withdraw(test_payment)  # nothing to close, nothing raised


def test_the_sandbox_accepts_refunds_with_a_reference() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="")
    refund_id = uuid4()
    result = sandbox.refund("SBX-1", uuid4(), refund_id, Money(1000, IDR))
    assert result.accepted
    assert result.channel_ref.startswith("SBXR-")
    again = sandbox.refund("SBX-1", uuid4(), uuid4(), Money(1000, IDR))
    assert again.channel_ref != result.channel_ref


def test_a_channel_status_is_final_unless_it_says_otherwise() -> None:
    status = ChannelStatus(paid=False, amount=None, channel_ref=None, detail="x")
    assert (status.final, status.paid_at) == (True, None)


# -- the durable X-EXTERNAL-ID store ------------------------------------------------------


def test_seen_external_ids_are_shared_through_the_store(
    backend_settings: Settings, clock: FakeClock
) -> None:
    first = open_paylink(backend_settings, clock=clock)
    second = open_paylink(backend_settings, clock=clock)  # another worker process, same store
    try:
        day = date(2026, 1, 5)
        seen = EventSourcedSeenExternalIds(first.app.save, lambda i: i in first.app.repository)
        elsewhere = EventSourcedSeenExternalIds(
            second.app.save, lambda i: i in second.app.repository
        )
        check_once_per_day(seen, elsewhere, day, "100000000001", "100000000002")
    finally:
        second.close()
        first.close()


# -- the registry -----------------------------------------------------------------------------


def _state(settings: Settings) -> SimpleNamespace:
    """An app's state, as far as the channel registry reads it."""
    return SimpleNamespace(
        settings=settings, services=SimpleNamespace(channels=build_channels(settings))
    )


def close_channels(state: SimpleNamespace) -> None:
    close_all(state.services.channels)


def test_the_registry_has_the_sandbox_always_and_winpay_when_configured(
    tmp_path: Path, configured: Settings
) -> None:
    plain = _state(Settings(data_dir=tmp_path))
    assert list(channels_of(plain)) == ["sandbox"]
    with pytest.raises(ChannelNotConfiguredError) as caught:
        channel_for(plain, "winpay")
    assert caught.value.field == "channel"
    assert channel_for_payment(plain, "test", "va_bca") is channel_for(plain, "sandbox")
    assert channel_for_payment(plain, "live", "va_bca") is None

    state = _state(configured)
    built = channels_of(state)
    assert sorted(built) == ["sandbox", "winpay"]
    assert channels_of(state) is built  # the services', not built again
    port: ChannelPort = channel_for(state, "winpay")
    assert isinstance(port, WinpayChannel)
    assert channel_for_payment(state, "live", "va_bri") is port
    assert channel_for_payment(state, "live", "qris") is port
    assert channel_for_payment(state, "live", "ewallet_ovo") is port
    assert channel_for_payment(state, "live", "ewallet_linkaja") is None
    assert channel_for_payment(state, "live", "card") is None
    assert isinstance(channel_for_payment(state, "test", "va_bri"), SandboxChannel)
    close_channels(state)
    close_channels(state)  # closing twice is harmless


def test_a_link_offers_the_methods_a_channel_can_take_for_its_mode(
    tmp_path: Path, configured: Settings
) -> None:
    methods = ["va_bri", "card", "qris", "ewallet_linkaja", "ewallet_ovo"]
    live = SimpleNamespace(mode="live", methods=methods)
    test = SimpleNamespace(mode="test", methods=methods)
    plain = _state(Settings(data_dir=tmp_path))
    assert offered_methods(plain, live) == []  # type: ignore[arg-type]
    assert offered_methods(plain, test) == methods  # type: ignore[arg-type]
    state = _state(configured)
    assert offered_methods(state, live) == ["va_bri", "qris", "ewallet_ovo"]  # type: ignore[arg-type]
    close_channels(state)


def test_a_ledger_confirms_through_any_port(memory_app: Paylink) -> None:
    """The sandbox satisfies the port the verification pipeline takes."""
    sandbox: ChannelPort = SandboxChannel(secret="s", base_url="")
    assert isinstance(sandbox, SandboxChannel)
    merchant = memory_app.merchants.register("Toko")
    link = memory_app.links.create(
        merchant, amount=50_000, description="x", methods=["va_bca"], usage_limit=None
    )
    pipeline = memory_app.verification
    payment_id = memory_app.payments.start(link, "va_bca")
    ref = sandbox.reference(payment_id, Money(5000, IDR))
    note = Notification(payment_id, ref, Money(5000, IDR), memory_app.now())
    verified = pipeline.process(sandbox, note)
    assert verified.kind == "verified"
    assert verified.payment is not None
    assert verified.payment.status == "verified"
    assert pipeline.confirm(payment_id, sandbox).reason == "verified before"
    forged = memory_app.payments.start(link, "va_bca")
    memory_app.payments.record(forged, "SBX-FORGED", Money(5000, IDR), memory_app.now())
    rejected = pipeline.confirm(forged, sandbox)
    assert rejected.kind == "rejected"
    assert rejected.payment is not None
    assert rejected.payment.status == "rejected"
    assert UUID(str(rejected.payment.id)) == forged

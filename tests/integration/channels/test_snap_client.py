"""The SNAP client and Winpay's services (``WinpayApi``) against the local Winpay
counterpart, which checks our signatures and answers as Winpay's documents say Winpay does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.channels import snap_codes as codes
from paylink_es.channels.qris import parse_tlv
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_codes import (
    SnapAnswerInvalidError,
    SnapRequestRejectedError,
    SnapUnreachableError,
)
from paylink_es.channels.snap_signing import RsaSigner
from paylink_es.channels.winpay_api import (
    PATH_CREATE_VA,
    PATH_DELETE_VA,
    PATH_VA_STATUS,
    TransactionStatus,
    VaRef,
    VirtualAccount,
    WinpayApi,
    clean_trx_id,
    clean_va_name,
    create_va_body,
    read_transaction_status,
    read_va_status,
    va_digits,
)
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from tests.support.examples import scaled
from tests.support.snap_counterpart import BINS, WinpayCounterpart, private_pem

IDR = "IDR"


def wib_now() -> datetime:
    return datetime.now(WIB)


def make_client(base_url: str, signer: RsaSigner, **extra: Any) -> SnapClient:
    return SnapClient(
        base_url=base_url,
        partner_id="PAYLINK",
        channel_id="WEB",
        signer=signer,
        clock=wib_now,
        **extra,
    )


@pytest.fixture
def client(counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey) -> Iterator[SnapClient]:
    with make_client(counterpart.base_url, RsaSigner.from_pem(private_pem(merchant_key))) as c:
        yield c


@pytest.fixture
def api(client: SnapClient) -> WinpayApi:
    return WinpayApi(client)


def create(
    api: WinpayApi, trx_id: str = "INV-0001", method: str = "va_bri", amount: int = 10_000
) -> VirtualAccount:
    return api.create_va(
        name="Paylink customer",
        trx_id=trx_id,
        amount=Money(amount, IDR),
        method=method,
        expires_at=wib_now() + timedelta(days=1),
    )


def ref_of(va: VirtualAccount) -> VaRef:
    return VaRef(
        virtual_account_no=va.virtual_account_no,
        trx_id=va.trx_id,
        contract_id=va.contract_id,
        channel=va.channel,
    )


def about_va(va: VirtualAccount, channel: str, **info: str) -> dict[str, Any]:
    """What a request about ``va`` says: its number as Winpay gave it, its trxId, and its
    contract and ``channel`` (and ``info``) in ``additionalInfo``."""
    return {
        "virtualAccountNo": va.virtual_account_no,
        "trxId": va.trx_id,
        "additionalInfo": {"contractId": va.contract_id, "channel": channel, **info},
    }


# -- create-va ---------------------------------------------------------------------------------


def test_creates_a_virtual_account_and_keeps_winpays_answer_verbatim(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    va = api.create_va(
        name="Paylink customer",
        trx_id="INV-0001",
        amount=Money(10_000, IDR),
        method="va_mandiri",
        expires_at=wib_now() + timedelta(hours=2),
    )
    answered = counterpart.vas["INV-0001"]
    # The BIN is Winpay's choice, space-padded to 8; the number is the BIN + customerNo.
    assert va.partner_service_id == answered["partnerServiceId"] == BINS["MANDIRI"].rjust(8)
    assert va.customer_no == answered["customerNo"]
    assert va.virtual_account_no == answered["virtualAccountNo"]
    assert va.virtual_account_no == va.partner_service_id + va.customer_no
    assert va.contract_id == answered["additionalInfo"]["contractId"]
    assert va.contract_id.startswith("ci")
    assert (va.trx_id, va.trx_type, va.channel) == ("INV-0001", "c", "MANDIRI")
    assert va.amount == Money(10_000, IDR)
    assert va.expires_at.isoformat() == answered["expiredDate"]

    ((method, body),) = counterpart.sent(PATH_CREATE_VA)
    assert method == "POST"
    assert "partnerServiceId" not in body
    assert "virtualAccountNo" not in body
    assert "customerNo" not in body  # one-off: Winpay generates it
    assert body["totalAmount"] == {"value": "10000.00", "currency": "IDR"}
    assert body["virtualAccountTrxType"] == "c"
    assert body["expiredDate"].endswith("+07:00")
    assert body["additionalInfo"] == {"channel": "MANDIRI"}
    _, _, headers, _ = counterpart.calls[0]
    assert headers["X-PARTNER-ID"] == "PAYLINK"
    assert headers["CHANNEL-ID"] == "WEB"


def test_each_bank_gets_the_bin_winpay_chooses(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    for index, (method, channel) in enumerate(
        [("va_bsi", "BSI"), ("va_cimb", "CIMB"), ("retail_alfamart", "ALFAMART")]
    ):
        va = create(api, f"INV-BIN-{index}", method)
        assert va.partner_service_id.strip() == BINS[channel]
        assert va_digits(va.virtual_account_no) == BINS[channel] + va.customer_no
        assert va.channel == channel


def test_winpay_may_answer_another_customer_no_than_the_one_asked_for(
    client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    body = create_va_body(
        name="Paylink customer",
        trx_id="INV-ASKED-1",
        amount=Money(10_000, IDR),
        method="va_bsi",
        expires_at=wib_now() + timedelta(days=1),
        now=wib_now(),
        customer_no="000003212",
    )
    assert body["customerNo"] == "000003212"
    answer = client.call("POST", PATH_CREATE_VA, body, codes.CREATE_VA_OK)
    va = VirtualAccount.from_answer(answer["virtualAccountData"], "BSI")
    assert va.customer_no != "000003212"
    assert va.customer_no == counterpart.vas["INV-ASKED-1"]["customerNo"]
    assert va.partner_service_id == "    9042"
    assert va.virtual_account_no == "    9042" + va.customer_no
    # Through WinpayApi, the wish is sent and Winpay's choice is what comes back.
    wished = WinpayApi(client).create_va(
        name="Paylink customer",
        trx_id="INV-ASKED-2",
        amount=Money(10_000, IDR),
        method="va_bsi",
        expires_at=wib_now() + timedelta(days=1),
        customer_no="000003212",
    )
    assert counterpart.sent(PATH_CREATE_VA)[-1][1]["customerNo"] == "000003212"
    assert wished.customer_no == counterpart.vas["INV-ASKED-2"]["customerNo"] != "000003212"


@pytest.mark.parametrize(
    ("given_name", "cleaned"),
    [("Kopi & Teh Bu Sri's", "Kopi Teh Bu Sris"), ("Warung Kafé Ñoño", "Warung Kafe Nono")],
)
def test_a_name_winpay_would_refuse_is_cleaned_and_gets_a_va(
    api: WinpayApi,
    client: SnapClient,
    counterpart: WinpayCounterpart,
    given_name: str,
    cleaned: str,
) -> None:
    raw = {
        "virtualAccountName": given_name,
        "trxId": "INV-RAW-NAME",
        "totalAmount": {"value": "10000.00", "currency": "IDR"},
        "virtualAccountTrxType": "c",
        "expiredDate": (wib_now() + timedelta(days=1)).isoformat(timespec="seconds"),
        "additionalInfo": {"channel": "BSI"},
    }
    with pytest.raises(SnapRequestRejectedError) as caught:
        client.call("POST", PATH_CREATE_VA, raw, codes.CREATE_VA_OK)
    assert caught.value.response_code == "4002701"
    with pytest.raises(InvalidFieldError) as refused:  # refused here before any call, too
        api.create_va(
            name=given_name,
            trx_id="INV-RAW-NAME",
            amount=Money(10_000, IDR),
            method="va_bsi",
            expires_at=wib_now() + timedelta(days=1),
        )
    assert refused.value.field == "virtualAccountName"

    assert clean_va_name(given_name) == cleaned
    va = api.create_va(
        name=clean_va_name(given_name),
        trx_id="INV-CLEAN-NAME",
        amount=Money(10_000, IDR),
        method="va_bsi",
        expires_at=wib_now() + timedelta(days=1),
    )
    assert counterpart.vas[va.trx_id]["virtualAccountName"] == cleaned


@pytest.mark.parametrize(
    ("given_name", "cleaned"),
    [
        ("Toko Budi Jaya", "Toko Budi Jaya"),
        ("Abc", "Abc Paylink"),
        ("", "Paylink"),
        ("東京ラーメン", "Paylink"),
        ("PT. Maju-Jaya_Abadi (Persero) Tbk", "PT Maju-Jaya_Abadi Perse"),
        ("  lots   of   spaces  ", "lots of spaces"),
    ],
)
def test_va_names_are_cleaned_to_what_winpay_accepts(given_name: str, cleaned: str) -> None:
    assert clean_va_name(given_name) == cleaned


@settings(max_examples=scaled(200))
@given(name=st.text(max_size=60))
def test_any_name_cleans_to_a_valid_va_name(name: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_\- ]{5,24}", clean_va_name(name))


@settings(max_examples=scaled(200))
@given(reference=st.text(max_size=80))
def test_any_reference_cleans_to_a_valid_trx_id(reference: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_\-]{5,50}", clean_trx_id(reference))


def test_a_payment_id_is_its_own_trx_id() -> None:
    payment_id = "0b6f1d6e-3c1e-4a7b-9a51-2f4b8e1c9d70"
    assert clean_trx_id(payment_id) == payment_id
    assert clean_trx_id("INV 2024/01 #5") == "INV-202401-5"
    assert clean_trx_id("ab") == "ab000"


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
        create(WinpayApi(client))
    assert (caught.value.response_code, caught.value.http_status) == ("4012700", 401)
    assert counterpart.vas == {}


def test_a_key_the_provider_does_not_know_is_rejected(
    counterpart: WinpayCounterpart, winpay_key: rsa.RSAPrivateKey
) -> None:
    with (
        make_client(counterpart.base_url, RsaSigner(winpay_key)) as client,
        pytest.raises(SnapRequestRejectedError) as caught,
    ):
        WinpayApi(client).generate_qris(partner_reference_no="QR-00001", amount=Money(5_000, IDR))
    assert caught.value.response_code == "4014700"


def test_a_duplicate_trx_id_is_a_typed_conflict(api: WinpayApi) -> None:
    create(api, "INV-DUP-1")
    with pytest.raises(SnapRequestRejectedError) as caught:
        create(api, "INV-DUP-1")
    assert caught.value.response_code == "4092701"
    assert caught.value.http_status == 409


# -- the create answer, read ----------------------------------------------------------------

ANSWER: dict[str, Any] = {
    "partnerServiceId": "   22691",
    "customerNo": "41708949044",
    "virtualAccountNo": "   2269141708949044",
    "virtualAccountName": "Valid 14",
    "trxId": "xxxxxxxxxxx13",
    "totalAmount": {"value": "15000.00", "currency": "IDR"},
    "virtualAccountTrxType": "c",
    "expiredDate": "2024-02-27T19:04:51+07:00",
    "additionalInfo": {"channel": "CIMB", "contractId": "ciaf1b98"},
}


def test_an_answer_about_another_trx_id_is_refused(merchant_key: rsa.RSAPrivateKey) -> None:
    answer = {
        "responseCode": "2002700",
        "responseMessage": "Successful",
        "virtualAccountData": {**ANSWER, "trxId": "SOMEONE-ELSE"},
    }
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    with (
        make_client("http://127.0.0.1:9", RsaSigner(merchant_key), transport=transport) as c,
        pytest.raises(SnapAnswerInvalidError, match="trxId"),
    ):
        create(WinpayApi(c), "INV-MINE-1")


def test_a_create_answer_is_read_verbatim() -> None:
    va = VirtualAccount.from_answer(ANSWER, "CIMB")
    assert (va.partner_service_id, va.customer_no) == ("   22691", "41708949044")
    assert va.virtual_account_no == "   2269141708949044"
    assert (va.contract_id, va.channel, va.trx_type) == ("ciaf1b98", "CIMB", "c")
    assert va.amount == Money(15_000, IDR)


@pytest.mark.parametrize(
    "change",
    [
        {"virtualAccountNo": "   2269100000000001"},  # not BIN + customerNo
        {"customerNo": 41708949044},
        {"partnerServiceId": None},
        {"additionalInfo": {"channel": "CIMB"}},  # no contractId
        {"totalAmount": {"value": "15000.50", "currency": "IDR"}},
        {"expiredDate": "tomorrow"},
    ],
)
def test_a_create_answer_that_is_not_what_winpay_documents_is_refused(
    change: dict[str, Any],
) -> None:
    with pytest.raises(SnapAnswerInvalidError):
        VirtualAccount.from_answer({**ANSWER, **change}, "CIMB")


# -- status (service 26) ----------------------------------------------------------------------


def test_status_says_unpaid_then_paid_with_the_amount_and_reference(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    va = create(api, "INV-STAT-1", amount=15_000)
    before = api.va_status(ref_of(va))
    reference_no = counterpart.pay("INV-STAT-1")
    after = api.va_status(ref_of(va))
    assert (before.flag, before.paid, before.reference_no) == ("01", False, "")
    assert before.transaction_date is None
    assert (after.flag, after.paid, after.amount) == ("00", True, Money(15_000, IDR))
    assert after.reference_no == reference_no
    assert after.transaction_date is not None
    assert abs(after.transaction_date - wib_now()) < timedelta(minutes=1)
    # Status answers carry the VA number without the BIN's padding.
    assert " " not in after.virtual_account_no
    assert after.virtual_account_no == va_digits(va.virtual_account_no)


def test_status_is_asked_with_the_va_as_winpay_gave_it_by_post(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    va = create(api, "INV-SHAPE-1", "va_cimb")
    api.va_status(ref_of(va))
    ((method, body),) = counterpart.sent(PATH_VA_STATUS)
    assert (method, body) == ("POST", about_va(va, "CIMB", trxId="INV-SHAPE-1"))
    assert body["virtualAccountNo"].startswith("   22691")  # with its spaces
    assert "paidAmount" not in body


def test_status_goes_out_by_get_when_configured(
    client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    api = WinpayApi(client, status_method="GET")
    va = create(api, "INV-GET-1")
    counterpart.pay("INV-GET-1")
    assert api.va_status(ref_of(va)).paid
    ((method, body),) = counterpart.sent(PATH_VA_STATUS)
    assert method == "GET"
    assert body["additionalInfo"]["contractId"] == va.contract_id
    assert "GET" in repr(api)


@pytest.mark.parametrize("flag", ["01", "02"])
def test_unpaid_and_check_are_answered_as_given(
    api: WinpayApi, counterpart: WinpayCounterpart, flag: str
) -> None:
    va = create(api, f"INV-FLAG-{flag}")
    counterpart.status_flags[va.trx_id] = flag
    status = api.va_status(ref_of(va))
    assert (status.flag, status.paid) == (flag, False)


def test_status_of_an_unknown_account_or_contract_is_rejected_with_its_code(
    api: WinpayApi,
) -> None:
    va = create(api, "INV-KNOWN-1")
    unknown = VaRef(va.virtual_account_no, "NOPE-1", va.contract_id, va.channel)
    with pytest.raises(SnapRequestRejectedError) as caught:
        api.va_status(unknown)
    assert caught.value.response_code == "4042601"
    other_contract = VaRef(va.virtual_account_no, va.trx_id, "ci-not-this-one", va.channel)
    with pytest.raises(SnapRequestRejectedError) as contract:
        api.va_status(other_contract)
    assert contract.value.response_code == "5002602"


def test_status_without_a_contract_id_is_refused_before_any_call(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        api.va_status(VaRef("    904200000009", "INV-0001", "", "BSI"))
    assert caught.value.field == "contractId"
    assert counterpart.calls == []


STATUS_ANSWER: dict[str, Any] = {
    "responseCode": "2002600",
    "responseMessage": "Successful",
    "virtualAccountData": {
        "virtualAccountNo": "2269141708949044",
        "virtualAccountName": "Valid 14",
        "paymentFlagStatus": "00",
        "transactionDate": "2024-02-26T19:04:51+00:00",
        "referenceNo": "50966",
        "totalAmount": {"value": "15000.00", "currency": "IDR"},
    },
    "additionalInfo": {"contractId": "ciaf1b98", "channel": "CIMB", "trxId": "xxxxxxxxxxx13"},
}
PADDED = VaRef("   2269141708949044", "xxxxxxxxxxx13", "ciaf1b98", "CIMB")


def with_data(**change: Any) -> dict[str, Any]:
    return {
        **STATUS_ANSWER,
        "virtualAccountData": {**STATUS_ANSWER["virtualAccountData"], **change},
    }


def test_the_documented_status_answer_reads_from_virtual_account_data() -> None:
    status = read_va_status(STATUS_ANSWER, PADDED)
    assert (status.flag, status.paid, status.reference_no) == ("00", True, "50966")
    assert status.amount == Money(15_000, IDR)
    assert status.transaction_date == datetime.fromisoformat("2024-02-26T19:04:51+00:00")
    assert status.virtual_account_no == "2269141708949044"


def test_the_amount_paid_is_total_amount_whatever_else_the_answer_says() -> None:
    noisy = with_data(paidAmount={"value": "1.00", "currency": "IDR"})
    assert read_va_status(noisy, PADDED).amount == Money(15_000, IDR)
    plain = with_data(totalAmount={"value": "15000", "currency": "IDR"})
    assert read_va_status(plain, PADDED).amount == Money(15_000, IDR)


@pytest.mark.parametrize(
    "answer",
    [
        with_data(paymentFlagStatus="03"),
        with_data(paymentFlagStatus=None),
        with_data(virtualAccountNo="2269100000000001"),  # about another VA
        with_data(referenceNo=""),  # paid, without the money's reference
        with_data(totalAmount=None),
        with_data(transactionDate="yesterday"),
        {key: value for key, value in STATUS_ANSWER.items() if key != "virtualAccountData"},
    ],
)
def test_a_status_answer_that_is_not_what_winpay_documents_is_refused(
    answer: dict[str, Any],
) -> None:
    with pytest.raises(SnapAnswerInvalidError):
        read_va_status(answer, PADDED)


# -- delete-va (service 31) ---------------------------------------------------------------------


def test_delete_goes_out_as_http_delete_and_the_va_takes_no_more_money(
    api: WinpayApi, client: SnapClient, counterpart: WinpayCounterpart
) -> None:
    va = create(api, "INV-DEL-1", "va_bsi")
    api.delete_va(ref_of(va))
    assert counterpart.sent(PATH_DELETE_VA) == [("DELETE", about_va(va, "BSI"))]
    assert counterpart.deleted == {"INV-DEL-1"}
    with pytest.raises(ValueError, match="deleted"):
        counterpart.pay("INV-DEL-1")
    with pytest.raises(SnapRequestRejectedError) as again:
        api.delete_va(ref_of(va))
    assert again.value.response_code == "4043101"
    # What one third-party simulator does — a POST there — is not Winpay's delete.
    other = create(api, "INV-DEL-2")
    with pytest.raises(SnapRequestRejectedError) as posted:
        client.call("POST", PATH_DELETE_VA, {"trxId": other.trx_id}, codes.DELETE_VA_OK)
    assert (posted.value.response_code, posted.value.http_status) == ("4053100", 405)
    assert "INV-DEL-2" not in counterpart.deleted


# -- QRIS and e-wallet ---------------------------------------------------------------------------


def test_generates_a_qris_for_the_amount_and_asks_its_status(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    code = api.generate_qris(
        partner_reference_no="QR-000123",
        amount=Money(25_000, IDR),
        validity_period=wib_now() + timedelta(minutes=30),
    )
    assert parse_tlv(code.qr_content)["54"] == "25000"
    assert code.partner_reference_no == "QR-000123"
    assert code.reference_no == counterpart.qris["QR-000123"].reference_no
    refs = {"reference_no": code.reference_no, "partner_reference_no": "QR-000123"}
    waiting = api.transaction_status("qris", **refs)
    assert (waiting.code, waiting.paid, waiting.final) == ("01", False, False)
    counterpart.pay_qris("QR-000123")
    paid = api.transaction_status("qris", **refs)
    assert (paid.code, paid.paid, paid.final) == ("00", True, True)
    assert paid.amount == Money(25_000, IDR)
    assert paid.paid_at is not None


def test_a_failed_qris_is_final_and_unpaid(api: WinpayApi, counterpart: WinpayCounterpart) -> None:
    code = api.generate_qris(partner_reference_no="QR-000124", amount=Money(5_000, IDR))
    counterpart.fail_qris("QR-000124")
    failed = api.transaction_status(
        "qris", reference_no=code.reference_no, partner_reference_no="QR-000124"
    )
    assert (failed.code, failed.paid, failed.final) == ("06", False, True)


def test_an_ewallet_payment_sends_the_customer_to_a_page_and_reports_its_status(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    made = api.pay_by_ewallet(
        partner_reference_no="EW-000001",
        amount=Money(30_000, IDR),
        method="ewallet_dana",
        return_url="http://127.0.0.1:9/l/abc/p/1",
        valid_until=wib_now() + timedelta(hours=1),
    )
    assert made.channel == "DANA"
    page = httpx.get(made.redirect_url)
    assert page.status_code == 200
    assert "DANA" in page.text
    refs = {"reference_no": made.reference_no, "partner_reference_no": "EW-000001"}
    assert api.transaction_status("ewallet", **refs).final is False
    counterpart.pay_ewallet("EW-000001")
    paid = api.transaction_status("ewallet", **refs)
    assert (paid.paid, paid.amount) == (True, Money(30_000, IDR))


def test_an_ewallet_winpay_does_not_offer_is_refused_before_any_call(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        api.pay_by_ewallet(
            partner_reference_no="EW-000002",
            amount=Money(30_000, IDR),
            method="ewallet_linkaja",
            return_url="http://127.0.0.1:9/",
            valid_until=wib_now() + timedelta(hours=1),
        )
    assert caught.value.field == "method"
    assert counterpart.calls == []


@pytest.mark.parametrize(
    ("code", "final"), [("00", True), ("01", False), ("02", False), ("03", False), ("07", False)]
)
def test_only_pending_transaction_codes_are_worth_asking_again(code: str, final: bool) -> None:
    answer = {"latestTransactionStatus": code, "amount": {"value": "1000", "currency": "IDR"}}
    assert read_transaction_status(answer).final is final
    assert TransactionStatus("06", "Failed", None, None).final is True


def test_a_successful_transaction_status_without_amount_is_refused() -> None:
    with pytest.raises(SnapAnswerInvalidError):
        read_transaction_status({"latestTransactionStatus": "00"})
    with pytest.raises(SnapAnswerInvalidError):
        read_transaction_status({"latestTransactionStatus": "0"})


@pytest.mark.parametrize("info", ["paid", ["paidTime"], 5])
def test_a_transaction_status_whose_additional_info_is_not_an_object_is_a_typed_error(
    info: object,
) -> None:
    """winpay_api's contract: anything not as Winpay documents is SnapAnswerInvalidError."""
    with pytest.raises(SnapAnswerInvalidError):
        read_transaction_status({"latestTransactionStatus": "01", "additionalInfo": info})


# -- the client --------------------------------------------------------------------------------


def test_every_request_carries_a_fresh_numeric_external_id(
    api: WinpayApi, counterpart: WinpayCounterpart
) -> None:
    for index in range(5):
        create(api, f"INV-MANY-{index}")
    ids = [headers["X-EXTERNAL-ID"] for _, _, headers, _ in counterpart.calls]
    assert len(set(ids)) == 5
    assert all(i.isdigit() for i in ids)


def test_the_clients_clock_is_what_it_stamps_with(merchant_key: rsa.RSAPrivateKey) -> None:
    moment = datetime(2024, 1, 11, 9, 0, tzinfo=WIB)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-TIMESTAMP"])
        return httpx.Response(200, json={"responseCode": "2003100"})

    with SnapClient(
        base_url="http://127.0.0.1:9",
        partner_id="P",
        channel_id="C",
        signer=RsaSigner(merchant_key),
        clock=lambda: moment,
        transport=httpx.MockTransport(answer),
    ) as client:
        assert client.now() == moment
        client.call("DELETE", PATH_DELETE_VA, {}, codes.DELETE_VA_OK)
    assert seen == ["2024-01-11T09:00:00+07:00"]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"responseMessage": "no code"}),
    ],
)
def test_an_answer_that_is_not_snap_is_a_typed_error(
    merchant_key: rsa.RSAPrivateKey, response: httpx.Response
) -> None:
    transport = httpx.MockTransport(lambda _: response)
    with (
        make_client("http://127.0.0.1:9", RsaSigner(merchant_key), transport=transport) as c,
        pytest.raises(SnapAnswerInvalidError),
    ):
        c.call("POST", PATH_VA_STATUS, {}, codes.VA_STATUS_OK)


def test_an_unreachable_provider_is_a_typed_error(merchant_key: rsa.RSAPrivateKey) -> None:
    with WinpayCounterpart(merchant_key.public_key(), merchant_key) as gone:
        url = gone.base_url
    with make_client(url, RsaSigner(merchant_key)) as client, pytest.raises(SnapUnreachableError):
        create(WinpayApi(client))


# -- the create-va body, checked before it leaves ------------------------------------------------

NOW = datetime(2024, 1, 11, 9, 0, tzinfo=WIB)
GOOD: dict[str, Any] = {
    "name": "Paylink customer",
    "trx_id": "INV-0001",
    "amount": Money(10_000, IDR),
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
        ({"name": "Kopi & Teh Bu Sri's"}, "virtualAccountName"),
        ({"trx_id": "INV1"}, "trxId"),
        ({"trx_id": "x" * 51}, "trxId"),
        ({"trx_id": "INV/0001"}, "trxId"),
        ({"method": "qris"}, "method"),
        ({"method": "ewallet_ovo"}, "method"),
        ({"expires_at": NOW + timedelta(seconds=30)}, "expiredDate"),
        ({"expires_at": NOW + timedelta(days=93)}, "expiredDate"),
        ({"expires_at": datetime(2024, 1, 12, 9, 0)}, "expiredDate"),  # noqa: DTZ001
        ({"trx_type": "x"}, "virtualAccountTrxType"),
        ({"trx_type": "o"}, "virtualAccountTrxType"),  # BNI takes one-off VAs only
        ({"trx_type": "r", "method": "retail_indomaret"}, "virtualAccountTrxType"),
    ],
)
def test_create_va_refuses_a_bad_field_naming_it(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        create_va_body(**{**GOOD, **change})
    assert caught.value.field == field


def test_create_va_body_matches_the_spec() -> None:
    body = create_va_body(**GOOD)
    assert body == {
        "virtualAccountName": "Paylink customer",
        "trxId": "INV-0001",
        "totalAmount": {"value": "10000.00", "currency": "IDR"},
        "virtualAccountTrxType": "c",
        "expiredDate": "2024-01-12T09:00:00+07:00",
        "additionalInfo": {"channel": "BNI"},
    }
    assert "partnerServiceId" not in body
    assert "virtualAccountNo" not in body


def test_a_recurring_va_at_a_bank_that_takes_them_asks_its_customer_no() -> None:
    body = create_va_body(**{**GOOD, "method": "va_bsi", "trx_type": "o", "customer_no": "3212"})
    assert (body["customerNo"], body["virtualAccountTrxType"]) == ("3212", "o")
    assert body["additionalInfo"] == {"channel": "BSI"}


def test_expiry_three_months_ahead_is_allowed() -> None:
    body = create_va_body(**{**GOOD, "expires_at": datetime(2024, 4, 11, 9, 0, tzinfo=WIB)})
    assert body["expiredDate"] == "2024-04-11T09:00:00+07:00"

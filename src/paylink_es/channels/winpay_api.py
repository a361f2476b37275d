"""Winpay's SNAP services as Winpay documents them: request bodies and answers, typed.

Virtual accounts (create 27, status 26, inquiry 30, delete 31), QRIS MPM (generate 47,
query 51) and e-wallet host-to-host (payment 54, status 55). Every call goes through a
signed :class:`~paylink_es.channels.snap_client.SnapClient`; every answer is read into a frozen
dataclass at this edge, and anything that is not what Winpay documents is a
``SnapAnswerInvalidError``.

What Winpay answers is the truth: the create-VA answer's ``partnerServiceId`` (the bank's
BIN, chosen by Winpay), ``customerNo`` (Winpay may change it), ``virtualAccountNo`` and
``contractId`` are kept verbatim and used for every later call. VA numbers are compared
with their spaces stripped: create answers and callbacks pad the BIN to 8 characters,
status answers do not.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from paylink_es.channels import snap_codes as codes
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_codes import SnapAnswerInvalidError
from paylink_es.channels.snap_messages import (
    money_from_snap,
    money_to_snap,
    parse_snap_datetime,
    snap_timestamp,
)
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.domain.money import Money

PATH_CREATE_VA: Final = "/v1.0/transfer-va/create-va"
PATH_VA_STATUS: Final = "/v1.0/transfer-va/status"
PATH_VA_INQUIRY: Final = "/v1.0/transfer-va/inquiry-va"
PATH_DELETE_VA: Final = "/v1.0/transfer-va/delete-va"
PATH_QRIS_MPM: Final = "/v1.0/qr/qr-mpm-generate"
PATH_QRIS_QUERY: Final = "/v1.0/qr/qr-mpm-query"
PATH_EWALLET_PAY: Final = "/v1.0/debit/payment-host-to-host"
PATH_EWALLET_STATUS: Final = "/v1.0/debit/status"
# The status query of a QRIS (service 51) or of an e-wallet payment (55): its path, the
# service that made the transaction, and the code of a good answer.
STATUS_QUERIES: Final[Mapping[str, tuple[str, str, str]]] = {
    "qris": (PATH_QRIS_QUERY, codes.SERVICE_QRIS_MPM, codes.QRIS_QUERY_OK),
    "ewallet": (PATH_EWALLET_STATUS, codes.SERVICE_EWALLET_PAY, codes.EWALLET_STATUS_OK),
}

# Our method codes -> Winpay's additionalInfo.channel for VAs and retail outlets.
SNAP_CHANNELS: Final = {
    "va_bri": "BRI",
    "va_bni": "BNI",
    "va_mandiri": "MANDIRI",
    "va_permata": "PERMATA",
    "va_bsi": "BSI",
    "va_muamalat": "MUAMALAT",
    "va_bca": "BCA",
    "va_cimb": "CIMB",
    "va_sinarmas": "SINARMAS",
    "va_bnc": "BNC",
    "retail_indomaret": "INDOMARET",
    "retail_alfamart": "ALFAMART",
}
# Our e-wallet codes -> Winpay's e-wallet channels (host-to-host).
EWALLET_CHANNELS: Final = {
    "ewallet_ovo": "OVO",
    "ewallet_dana": "DANA",
    "ewallet_shopeepay": "SPAY",
}
VA_TRX_TYPES: Final = ("c", "o", "r")
ONE_OFF_ONLY: Final = frozenset({"BRI", "BNI", "MANDIRI", "INDOMARET", "ALFAMART"})

# paymentFlagStatus of the VA status inquiry.
FLAG_PAID, FLAG_UNPAID, FLAG_CHECK = "00", "01", "02"
# latestTransactionStatus of QRIS and e-wallet (SNAP): 00 success; 01 initiated, 02 paying,
# 03 pending and 07 not found (yet) are worth asking again; the rest are final.
TX_SUCCESS: Final = "00"
TX_PENDING: Final = frozenset({"01", "02", "03", "07"})

# --- cleaning what Winpay accepts -------------------------------------------------------------

_NOT_NAME = re.compile(r"[^A-Za-z0-9_\- ]+")
_NOT_TRX = re.compile(r"[^A-Za-z0-9_\-]+")


def _ascii(text: str) -> str:
    """Accents transliterated ("Kafé Ñoño" -> "Kafe Nono"), the rest left to the caller."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def clean_va_name(name: str, filler: str = "Paylink") -> str:
    """``virtualAccountName``: 5-24 letters, digits, ``_``, ``-`` or spaces, from any name.

    "Kopi & Teh Bu Sri's" -> "Kopi Teh Bu Sris"; too short a name is padded with ``filler``.
    """
    kept = " ".join(_NOT_NAME.sub("", _ascii(name).replace("&", " ")).split())[:24].strip()
    if len(kept) < 5:
        kept = f"{kept} {filler}".strip()[:24]
    return kept.ljust(5, "_")


def clean_trx_id(value: str) -> str:
    """``trxId``: 5-50 letters, digits, ``_`` or ``-``, from any reference."""
    kept = _NOT_TRX.sub("", _ascii(value).replace(" ", "-"))[:50]
    return kept.ljust(5, "0")


def va_digits(virtual_account_no: str) -> str:
    """A VA number without the BIN's padding: how two VA numbers are compared."""
    return "".join(virtual_account_no.split())


def _check(pattern: str, value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise InvalidFieldError(field, f"{value!r} is not {what}")
    return value


def _three_months_after(moment: datetime) -> datetime:
    index = moment.month - 1 + 3
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def _text(data: Mapping[str, Any], key: str, where: str = "the answer") -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise SnapAnswerInvalidError(f"{where} has no text {key!r}")
    return value


def _object(data: Mapping[str, Any], key: str, where: str = "the answer") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SnapAnswerInvalidError(f"{where} has no object {key!r}")
    return value


# --- virtual accounts ----------------------------------------------------------------------


def create_va_body(
    *,
    name: str,
    trx_id: str,
    amount: Money,
    method: str,
    expires_at: datetime,
    now: datetime,
    trx_type: str = "c",
    customer_no: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /v1.0/transfer-va/create-va`` (service 27), checked field by field.

    No ``partnerServiceId`` nor ``virtualAccountNo``: Winpay chooses the bank's BIN and
    answers the number.
    """
    _check(r"[A-Za-z0-9_\- ]{5,24}", name, "virtualAccountName", "5-24 letters/digits/_-")
    _check(r"[A-Za-z0-9_\-]{5,50}", trx_id, "trxId", "5-50 letters, digits, _ or -")
    if trx_type not in VA_TRX_TYPES:
        raise InvalidFieldError("virtualAccountTrxType", f"{trx_type!r} is not one of c, o, r")
    channel = SNAP_CHANNELS.get(method)
    if channel is None:
        raise InvalidFieldError("method", f"{method!r} has no Winpay SNAP channel")
    if trx_type != "c" and channel in ONE_OFF_ONLY:
        raise InvalidFieldError("virtualAccountTrxType", f"{channel} takes one-off VAs only")
    if expires_at.tzinfo is None:
        raise InvalidFieldError("expiredDate", "needs a time zone")
    if not now + timedelta(minutes=1) <= expires_at <= _three_months_after(now):
        raise InvalidFieldError("expiredDate", "must be 1 minute to 3 months ahead")
    body: dict[str, Any] = {}
    if customer_no is not None:
        body["customerNo"] = _check(r"[0-9]{3,14}", customer_no, "customerNo", "3-14 digits")
    return body | {
        "virtualAccountName": name,
        "trxId": trx_id,
        "totalAmount": money_to_snap(amount, "totalAmount"),
        "virtualAccountTrxType": trx_type,
        "expiredDate": snap_timestamp(expires_at),
        "additionalInfo": {"channel": channel},
    }


@dataclass(frozen=True)
class VirtualAccount:
    """A virtual account as Winpay issued it: every field verbatim from its answer."""

    partner_service_id: str
    customer_no: str
    virtual_account_no: str
    trx_id: str
    amount: Money
    expires_at: datetime
    channel: str
    contract_id: str
    trx_type: str

    @classmethod
    def from_answer(cls, data: Mapping[str, Any], fallback_channel: str) -> VirtualAccount:
        """Read ``virtualAccountData`` of a create or inquiry answer."""
        info = data.get("additionalInfo")
        info = info if isinstance(info, dict) else {}
        where = "virtualAccountData"
        contract = _text(info, "contractId", "virtualAccountData.additionalInfo")
        number = _text(data, "virtualAccountNo", where)
        service_id = _text(data, "partnerServiceId", where)
        customer_no = _text(data, "customerNo", where)
        if va_digits(number) != va_digits(service_id) + customer_no:
            raise SnapAnswerInvalidError(
                f"virtualAccountNo {number!r} is not partnerServiceId + customerNo"
            )
        try:
            return cls(
                partner_service_id=service_id,
                customer_no=customer_no,
                virtual_account_no=number,
                trx_id=_text(data, "trxId", where),
                amount=money_from_snap(data.get("totalAmount"), "totalAmount"),
                expires_at=parse_snap_datetime(data.get("expiredDate"), "expiredDate"),
                channel=str(info.get("channel") or fallback_channel),
                contract_id=contract,
                trx_type=str(data.get("virtualAccountTrxType") or "c"),
            )
        except InvalidFieldError as error:
            raise SnapAnswerInvalidError(f"virtualAccountData: {error}") from error


@dataclass(frozen=True)
class VaRef:
    """What every later call about a VA names: as the create answer gave it."""

    virtual_account_no: str
    trx_id: str
    contract_id: str
    channel: str


@dataclass(frozen=True)
class VaStatus:
    """The status inquiry's answer: ``00`` paid, ``01`` unpaid, ``02`` check (not final)."""

    flag: str
    amount: Money
    reference_no: str
    transaction_date: datetime | None
    virtual_account_no: str

    @property
    def paid(self) -> bool:
        """Whether Winpay says the VA was paid."""
        return self.flag == FLAG_PAID


def va_status_body(va: VaRef) -> dict[str, Any]:
    """The body of the status inquiry (service 26): the VA as Winpay gave it, its contract."""
    _check(r"[A-Za-z0-9_\-]{5,50}", va.trx_id, "trxId", "5-50 letters, digits, _ or -")
    if not va.contract_id:
        raise InvalidFieldError("contractId", "is required for a status inquiry")
    return {
        "virtualAccountNo": va.virtual_account_no,
        "trxId": va.trx_id,
        "additionalInfo": {"contractId": va.contract_id, "channel": va.channel, "trxId": va.trx_id},
    }


def delete_va_body(va: VaRef) -> dict[str, Any]:
    """The body of ``DELETE /v1.0/transfer-va/delete-va`` (service 31)."""
    return {
        "virtualAccountNo": va.virtual_account_no,
        "trxId": va.trx_id,
        "additionalInfo": {"contractId": va.contract_id, "channel": va.channel},
    }


def read_va_status(answer: Mapping[str, Any], va: VaRef) -> VaStatus:
    """The status answer: ``virtualAccountData`` with the flag, amount and reference."""
    data = _object(answer, "virtualAccountData")
    flag = data.get("paymentFlagStatus")
    if flag not in (FLAG_PAID, FLAG_UNPAID, FLAG_CHECK):
        raise SnapAnswerInvalidError(f"paymentFlagStatus {flag!r} is not 00, 01 or 02")
    number = str(data.get("virtualAccountNo") or va.virtual_account_no)
    if va_digits(number) != va_digits(va.virtual_account_no):
        raise SnapAnswerInvalidError(
            f"the status is about VA {number!r}, not {va.virtual_account_no!r}"
        )
    when = data.get("transactionDate")
    try:
        amount = money_from_snap(data.get("totalAmount"), "totalAmount")
        paid_at = parse_snap_datetime(when, "transactionDate") if when else None
    except InvalidFieldError as error:
        raise SnapAnswerInvalidError(f"virtualAccountData: {error}") from error
    if flag == FLAG_PAID and not data.get("referenceNo"):
        raise SnapAnswerInvalidError("a paid VA's status has no referenceNo")
    return VaStatus(
        flag=flag,
        amount=amount,
        reference_no=str(data.get("referenceNo") or ""),
        transaction_date=paid_at,
        virtual_account_no=number,
    )


# --- QRIS and e-wallet -----------------------------------------------------------------------


@dataclass(frozen=True)
class QrisCode:
    """A dynamic QRIS string Winpay generated for one payment."""

    partner_reference_no: str
    reference_no: str
    qr_content: str


@dataclass(frozen=True)
class EwalletPayment:
    """An e-wallet payment Winpay opened: where to send the customer."""

    partner_reference_no: str
    reference_no: str
    redirect_url: str
    channel: str


@dataclass(frozen=True)
class TransactionStatus:
    """A QRIS or e-wallet status (``latestTransactionStatus``) and what it says was paid."""

    code: str
    description: str
    amount: Money | None
    paid_at: datetime | None

    @property
    def paid(self) -> bool:
        """Whether the transaction succeeded."""
        return self.code == TX_SUCCESS

    @property
    def final(self) -> bool:
        """Whether asking again can change the answer (01/02/03/07 can)."""
        return self.code not in TX_PENDING


def qris_mpm_body(
    *, partner_reference_no: str, amount: Money, validity_period: datetime | None = None
) -> dict[str, Any]:
    """The body of ``POST /v1.0/qr/qr-mpm-generate`` (service 47)."""
    _check(r"[^\x00-\x1f\x7f]{5,64}", partner_reference_no, "partnerReferenceNo", "5-64 chars")
    body: dict[str, Any] = {
        "partnerReferenceNo": partner_reference_no,
        "amount": money_to_snap(amount, "amount"),
    }
    if validity_period is not None:
        body["validityPeriod"] = snap_timestamp(validity_period)
    return body


def read_transaction_status(answer: Mapping[str, Any]) -> TransactionStatus:
    """A QRIS query (51) or e-wallet status (55) answer."""
    code = _text(answer, "latestTransactionStatus")
    if not re.fullmatch(r"[0-9]{2}", code):
        raise SnapAnswerInvalidError(f"latestTransactionStatus {code!r} is not two digits")
    try:
        amount = money_from_snap(answer["amount"], "amount") if "amount" in answer else None
        info = answer.get("additionalInfo", {})
        if not isinstance(info, dict):
            raise SnapAnswerInvalidError("additionalInfo is not an object")
        paid_time = answer.get("paidTime") or info.get("paidTime")
        paid_at = parse_snap_datetime(paid_time, "paidTime") if paid_time else None
    except InvalidFieldError as error:
        raise SnapAnswerInvalidError(str(error)) from error
    if code == TX_SUCCESS and amount is None:
        raise SnapAnswerInvalidError("a successful transaction's status has no amount")
    return TransactionStatus(
        code=code,
        description=str(answer.get("transactionStatusDesc", "")),
        amount=amount,
        paid_at=paid_at,
    )


# --- the calls ---------------------------------------------------------------------------------


class WinpayApi:
    """Winpay's services over one signed SNAP client; ``status_method`` POST or GET."""

    def __init__(
        self, client: SnapClient, *, status_method: Literal["POST", "GET"] = "POST"
    ) -> None:
        self.client = client
        self.status_method = status_method

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def __repr__(self) -> str:
        return f"WinpayApi({self.client!r}, status_method={self.status_method!r})"

    def create_va(
        self,
        *,
        name: str,
        trx_id: str,
        amount: Money,
        method: str,
        expires_at: datetime,
        trx_type: str = "c",
        customer_no: str | None = None,
    ) -> VirtualAccount:
        """Create a VA (or a retail payment code) for ``amount`` by ``method``.

        ``customer_no`` is only a wish (recurring VAs need one): Winpay answers the one
        it chose.
        """
        body = create_va_body(
            name=name,
            trx_id=trx_id,
            amount=amount,
            method=method,
            expires_at=expires_at,
            now=self.client.now(),
            trx_type=trx_type,
            customer_no=customer_no,
        )
        answer = self.client.call("POST", PATH_CREATE_VA, body, codes.CREATE_VA_OK)
        va = VirtualAccount.from_answer(
            _object(answer, "virtualAccountData"), SNAP_CHANNELS[method]
        )
        if va.trx_id != trx_id:
            raise SnapAnswerInvalidError(f"asked for trxId {trx_id!r}, answered {va.trx_id!r}")
        return va

    def va_status(self, va: VaRef) -> VaStatus:
        """Service 26: whether the VA was paid (00), not yet (01), or to ask again (02)."""
        answer = self.client.call(
            self.status_method, PATH_VA_STATUS, va_status_body(va), codes.VA_STATUS_OK
        )
        return read_va_status(answer, va)

    def delete_va(self, va: VaRef) -> None:
        """Service 31 (HTTP DELETE): the VA can no longer be paid."""
        self.client.call("DELETE", PATH_DELETE_VA, delete_va_body(va), codes.DELETE_VA_OK)

    def generate_qris(
        self, *, partner_reference_no: str, amount: Money, validity_period: datetime | None = None
    ) -> QrisCode:
        """Service 47: a dynamic QRIS for one payment of ``amount``."""
        body = qris_mpm_body(
            partner_reference_no=partner_reference_no,
            amount=amount,
            validity_period=validity_period,
        )
        answer = self.client.call("POST", PATH_QRIS_MPM, body, codes.QRIS_MPM_OK)
        return QrisCode(
            partner_reference_no=partner_reference_no,
            reference_no=_text(answer, "referenceNo"),
            qr_content=_text(answer, "qrContent"),
        )

    def transaction_status(
        self, family: str, *, reference_no: str, partner_reference_no: str
    ) -> TransactionStatus:
        """Service 51 or 55: the latest status of a QRIS or e-wallet payment (``family``)."""
        path, service, success = STATUS_QUERIES[family]
        body = {
            "originalReferenceNo": reference_no,
            "originalPartnerReferenceNo": partner_reference_no,
            "serviceCode": service,
        }
        return read_transaction_status(self.client.call("POST", path, body, success))

    def pay_by_ewallet(
        self,
        *,
        partner_reference_no: str,
        amount: Money,
        method: str,
        return_url: str,
        valid_until: datetime,
    ) -> EwalletPayment:
        """Service 54: open an e-wallet payment; the customer is sent to its page."""
        channel = EWALLET_CHANNELS.get(method)
        if channel is None:
            raise InvalidFieldError("method", f"{method!r} has no Winpay e-wallet channel")
        body = {
            "partnerReferenceNo": partner_reference_no,
            "amount": money_to_snap(amount, "amount"),
            "urlParams": [{"url": return_url, "type": "PAY_RETURN", "isDeeplink": "N"}],
            "validUpTo": snap_timestamp(valid_until),
            "additionalInfo": {"channel": channel},
        }
        answer = self.client.call("POST", PATH_EWALLET_PAY, body, codes.EWALLET_PAY_OK)
        return EwalletPayment(
            partner_reference_no=partner_reference_no,
            reference_no=_text(answer, "referenceNo"),
            redirect_url=_text(answer, "webRedirectUrl"),
            channel=channel,
        )

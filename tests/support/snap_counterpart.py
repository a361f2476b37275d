"""A local Winpay SNAP counterpart on 127.0.0.1, built from Winpay's public documents and
the SNAP standard, independently of ``paylink_es.channels.snap_*`` and ``...winpay``.

Services (response code = HTTP(3) + service(2) + case(2); success is HTTP 200):

- ``POST   /v1.0/access-token/b2b``        73  B2B token (generic SNAP scheme only)
- ``POST   /v1.0/transfer-va/create-va``   27  Winpay picks the BIN (``BINS``) and the
  ``customerNo`` (never the one asked for); ``partnerServiceId`` or ``virtualAccountNo`` in
  the request → ``4002701``; answers ``partnerServiceId`` space-padded to 8 and
  ``virtualAccountNo`` = padded BIN + customerNo, and a generated ``contractId``; an
  ``expiredDate`` already past on ``clock`` → ``4002701``
- ``POST   /v1.0/transfer-va/inquiry-va``  30  the VA as create answered it (deleted or
  another contractId: ``4043001``)
- ``POST`` or ``GET /v1.0/transfer-va/status`` 26  ``virtualAccountData {virtualAccountNo
  (no spaces), virtualAccountName, paymentFlagStatus, transactionDate (UTC), referenceNo,
  totalAmount}`` and a top-level ``additionalInfo {contractId, channel, trxId}``; no
  ``paidAmount``
- ``DELETE /v1.0/transfer-va/delete-va``   31  (a POST there: HTTP 405, ``4053100``; a VA
  already deleted: ``4043101``)
- ``POST   /v1.0/qr/qr-mpm-generate``      47  and ``/v1.0/qr/qr-mpm-query`` 51
- ``POST   /v1.0/debit/payment-host-to-host`` 54 (``webRedirectUrl`` = ``GET /ewallet/<ref>``,
  a tiny HTML page) and ``/v1.0/debit/status`` 55

Signatures. RSA (Winpay's "asymmetric without access token", the default): SHA256withRSA
with the merchant's key over ``METHOD:path:lowercasehex(sha256(body)):X-TIMESTAMP``, where
METHOD is the request's real HTTP method and the body the exact bytes sent. Generic SNAP
(give ``client_key`` and ``client_secret``): a B2B token (its request signed SHA256withRSA
over ``clientKey|X-TIMESTAMP``) that expires after ``token_ttl`` on ``clock``, then
HMAC-SHA512 with the client secret over ``METHOD:path:token:hex(sha256(body)):X-TIMESTAMP``
(a missing, expired or refused token: ``401xx01``). Both: headers X-TIMESTAMP (``+07:00``,
with or without milliseconds, within 5 minutes of ``clock``), X-SIGNATURE, X-PARTNER-ID,
X-EXTERNAL-ID (digits or a UUID, never twice: ``409xx00``), CHANNEL-ID (missing:
``400xx02``), ``Content-Type: application/json``.

Knobs and records: ``requests`` (path, headers, payload) and ``calls`` (method, path,
headers, payload) of every authenticated request, ``sent(path)`` (method, payload) of
those to a path; ``refused`` (every refusal's code);
``status_flags`` (trxId → forced ``paymentFlagStatus``); ``fail_status`` (every status
inquiry answers ``5002600``); ``accept_tokens``; ``revoke_tokens()``; ``vas``, ``deleted``,
``va_states`` (payments, deleted), ``qris``, ``ewallets`` (mutable state: set ``.status``
to force a QRIS or e-wallet status). Paying, without HTTP: ``pay``, ``pay_qris``, ``pay_ewallet``,
``fail_qris``, ``fail_ewallet``.

Callbacks Winpay sends: ``va_payment_body`` and ``notify_body`` (QRIS, e-wallet) build
them; ``callback`` signs one over its path relative to ``/v1.0/`` (the merchant's
base URL prefix is not signed) and the minified body (``pretty=True`` sends it indented,
as a receiver must re-minify); ``notify`` signs and POSTs it to ``base_url + path``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from paylink_es.channels.qris import qris_payload
from paylink_es.channels.snap_callbacks import SeenExternalIds
from paylink_es.settings import Settings
from tests.support.loopback import LoopbackServer, QuietHandler

WIB = timezone(timedelta(hours=7))
TOKEN_PATH = "/v1.0/access-token/b2b"
TOKEN_SERVICE = "73"
CREATE_VA_PATH = "/v1.0/transfer-va/create-va"
INQUIRY_VA_PATH = "/v1.0/transfer-va/inquiry-va"
STATUS_PATH = "/v1.0/transfer-va/status"
DELETE_VA_PATH = "/v1.0/transfer-va/delete-va"
QRIS_GENERATE_PATH = "/v1.0/qr/qr-mpm-generate"
QRIS_QUERY_PATH = "/v1.0/qr/qr-mpm-query"
EWALLET_PAY_PATH = "/v1.0/debit/payment-host-to-host"
EWALLET_STATUS_PATH = "/v1.0/debit/status"
VA_PAYMENT_PATH = "/v1.0/transfer-va/payment"
QRIS_NOTIFY_PATH = "/v1.0/qr/qr-mpm-notify"
EWALLET_NOTIFY_PATH = "/v1.0/debit/notify"
CALLBACK_TOKEN = "winpay-callback-token-0001"

#: The BIN Winpay answers as ``partnerServiceId`` for each VA channel.
BINS = {
    "BRI": "77008",
    "BNI": "8241",
    "MANDIRI": "89022",
    "PERMATA": "8856",
    "BSI": "9042",
    "MUAMALAT": "8012",
    "BCA": "11210",
    "CIMB": "22691",
    "SINARMAS": "4566",
    "BNC": "9001",
    "INDOMARET": "2001",
    "ALFAMART": "2002",
}
ONE_OFF_ONLY = frozenset({"BRI", "BNI", "MANDIRI", "INDOMARET", "ALFAMART"})
EWALLET_CHANNELS = frozenset({"OVO", "DANA", "SPAY", "SC"})
VA_FEE = 4000  # rupiah, the VA fee in callbacks with fees=True
STATUS_DESC = {
    "00": "Success",
    "01": "Initiated",
    "03": "Pending",
    "05": "Cancelled",
    "06": "Failed",
    "07": "Not found",
}
AMOUNT = re.compile(r"[1-9]\d*\.00")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?\+07:00")
UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def rsa_sign(key: rsa.RSAPrivateKey, method: str, path: str, body: bytes, stamp: str) -> str:
    """SHA256withRSA over METHOD:path:sha256hex(body):timestamp, base64."""
    message = f"{method}:{path}:{hashlib.sha256(body).hexdigest()}:{stamp}".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def hmac_sign(secret: str, method: str, path: str, token: str, body: bytes, stamp: str) -> str:
    """HMAC-SHA512 (key: the client secret) over METHOD:path:token:sha256hex(body):stamp."""
    message = f"{method}:{path}:{token}:{hashlib.sha256(body).hexdigest()}:{stamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha512).digest()).decode()


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#8 PEM of a private key, as settings would hold it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """SubjectPublicKeyInfo PEM of a key pair's public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def winpay_at(
    counterpart: WinpayCounterpart,
    settings: Settings,
    merchant_key: rsa.RSAPrivateKey,
    **extra: Any,
) -> Settings:
    """``settings`` with Winpay at ``counterpart``: our partner and channel ids, our private
    key, and ``extra`` (the scheme, Winpay's public key, credentials...)."""
    return settings.model_copy(
        update={
            "winpay_base_url": counterpart.base_url,
            "winpay_partner_id": "PAYLINK",
            "winpay_channel_id": "PAYLINKWEB",
            "winpay_private_key": SecretStr(private_pem(merchant_key)),
            **extra,
        }
    )


def check_once_per_day(
    here: SeenExternalIds, there: SeenExternalIds, day: date, ref: str, other: str
) -> None:
    """An X-EXTERNAL-ID is new once per Jakarta day: asking records nothing, adding it
    again on that day is refused (also where ``there`` shares the store), the next day
    takes it anew, and another id is its own."""
    assert here.seen(day, ref) is False
    assert here.seen(day, ref) is False  # asking records nothing
    assert here.add(day, ref) is True
    assert here.seen(day, ref) is True
    assert there.seen(day, ref) is True
    assert here.add(day, ref) is False
    assert there.add(day, ref) is False
    assert there.seen(day + timedelta(days=1), ref) is False
    assert there.add(day + timedelta(days=1), ref) is True
    assert here.seen(day, other) is False
    assert here.add(day, other) is True


def minified(body: dict[str, Any]) -> bytes:
    """What Winpay's PHP ``json_encode($body, JSON_UNESCAPED_SLASHES)`` gives."""
    return json.dumps(body, separators=(",", ":")).encode()


def wib_time(moment: datetime, *, millis: bool = False) -> str:
    """``2024-01-11T08:57:55+07:00`` (``.123`` before the offset with ``millis``)."""
    return moment.astimezone(WIB).isoformat(timespec="milliseconds" if millis else "seconds")


def styled(value: str, style: Literal["decimal", "plain"]) -> str:
    """An amount as ``"10000.00"`` (decimal) or ``"10000"`` (plain); odd values verbatim."""
    if style == "plain" and value.endswith(".00"):
        return value[:-3]
    if style == "decimal" and value.isdigit():
        return value + ".00"
    return value


class Rejected(Exception):
    """An answer other than success: HTTP status, case code, message."""

    def __init__(self, status: int, case: str, message: str) -> None:
        super().__init__(message)
        self.status, self.case, self.message = status, case, message


@dataclass
class VaPayment:
    """One payment into a VA: Winpay's referenceNo, the value paid, when (the clock's)."""

    reference_no: str
    value: str
    paid_at: datetime


@dataclass
class VaState:
    """What the counterpart knows of a VA beyond the create answer."""

    payments: list[VaPayment] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Transaction:
    """A QRIS or e-wallet payment: its SNAP status (``STATUS_DESC``) and when it was paid."""

    reference_no: str
    partner_reference_no: str
    amount: dict[str, str]
    channel: str
    status: str = "01"
    paid_at: datetime | None = None


# contractId -> state, so that the module-level ``va_payment_body`` finds a VA's payments.
_VA_STATES: weakref.WeakValueDictionary[str, VaState] = weakref.WeakValueDictionary()

Service = Callable[[dict[str, Any]], dict[str, Any]]


def _text(body: dict[str, Any], name: str, service: str = "") -> str:
    """``body[name]`` as a non-empty string, else the missing/format refusal."""
    value = body.get(name)
    if value is None or value == "":
        raise Rejected(400, "02", f"Invalid Mandatory Field {service}{name}")
    if not isinstance(value, str):
        raise Rejected(400, "01", f"Invalid Field Format {service}{name}")
    return value


def _info(body: dict[str, Any]) -> dict[str, Any]:
    """``body["additionalInfo"]`` (an object; absent: empty)."""
    value = body.get("additionalInfo", {})
    if not isinstance(value, dict):
        raise Rejected(400, "01", "Invalid Field Format additionalInfo")
    return value


def _money(body: dict[str, Any], name: str) -> dict[str, str]:
    """An amount object ``{value: "10000.00", currency: "IDR"}``."""
    amount = body.get(name)
    if amount is None:
        raise Rejected(400, "02", f"Invalid Mandatory Field {name}")
    if not isinstance(amount, dict) or not AMOUNT.fullmatch(str(amount.get("value"))):
        raise Rejected(400, "01", f"Invalid Field Format {name}.value")
    if amount.get("currency") != "IDR":
        raise Rejected(400, "01", f"Invalid Field Format {name}.currency")
    return {"value": amount["value"], "currency": "IDR"}


class WinpayCounterpart(LoopbackServer):
    """The provider's side of the SNAP conversation, on a random local port."""

    def __init__(
        self,
        merchant_public: rsa.RSAPublicKey,
        winpay_private: rsa.RSAPrivateKey,
        *,
        client_key: str | None = None,
        client_secret: str | None = None,
        token_ttl: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] | None = None,
    ):
        self.merchant_public, self.winpay_private = merchant_public, winpay_private
        self.client_key, self.client_secret, self.token_ttl = client_key, client_secret, token_ttl
        self.clock = clock or (lambda: datetime.now(WIB))
        self.tokens: dict[str, datetime] = {}  # issued token -> when it expires
        self.tokens_issued = 0
        self.accept_tokens = True  # False: every token is "invalid" (401xx01)
        self.refused: list[str] = []  # the response code of every refused request
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.calls: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []
        self.vas: dict[str, dict[str, Any]] = {}  # trxId -> virtualAccountData as answered
        self.va_states: dict[str, VaState] = {}  # trxId -> payments, deleted
        self.paid: set[str] = set()  # trxIds paid at least once
        self.deleted: set[str] = set()
        self.status_flags: dict[str, str] = {}  # trxId -> forced paymentFlagStatus
        self.fail_status = False  # True: every status inquiry answers 5002600
        self.qris: dict[str, Transaction] = {}  # partnerReferenceNo -> QRIS
        self.ewallets: dict[str, Transaction] = {}  # partnerReferenceNo -> e-wallet payment
        self._external_ids: set[str] = set()
        self._numbers: set[str] = set()  # every generated customerNo / referenceNo
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], tuple[str, Service]] = {
            ("POST", CREATE_VA_PATH): ("27", self._create_va),
            ("POST", INQUIRY_VA_PATH): ("30", self._inquiry_va),
            ("POST", STATUS_PATH): ("26", self._status),
            ("GET", STATUS_PATH): ("26", self._status),
            ("DELETE", DELETE_VA_PATH): ("31", self._delete_va),
            ("POST", QRIS_GENERATE_PATH): ("47", self._qris_generate),
            ("POST", QRIS_QUERY_PATH): ("51", self._qris_query),
            ("POST", EWALLET_PAY_PATH): ("54", self._ewallet_pay),
            ("POST", EWALLET_STATUS_PATH): ("55", self._ewallet_status),
        }
        self._services = {path: service for (_, path), (service, _) in self._routes.items()}
        super().__init__(self._handler_class(), poll_interval_s=0.02)

    def _handler_class(self) -> type[QuietHandler]:
        counterpart = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                headers = dict(self.headers.items())
                status, kind, raw = counterpart.handle_raw(
                    self.command, self.path, headers, self.body()
                )
                self.reply(status, raw, kind)

            do_POST = do_GET = do_DELETE = do_PUT = _serve

        return Handler

    @property
    def hmac_scheme(self) -> bool:
        """Whether this counterpart speaks generic SNAP (B2B token + HMAC-SHA512)."""
        return self.client_secret is not None

    def sent(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """(HTTP method, payload) of every accepted request to ``path``, oldest first."""
        return [(method, payload) for method, p, _, payload in self.calls if p == path]

    def revoke_tokens(self) -> None:
        """Forget every issued token (as a provider restarting or rotating would)."""
        with self._lock:
            self.tokens.clear()

    # -- routing and authentication ----------------------------------------------------

    def handle_raw(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """HTTP status, content type and body for one request."""
        path = target.split("?", 1)[0]
        if method == "GET" and path.startswith("/ewallet/"):
            return self._ewallet_page(path.removeprefix("/ewallet/"))
        status, answer = self.handle(method, target, headers, body)
        return status, "application/json", minified(answer)

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Route one SNAP request; every failure becomes a SNAP error answer."""
        path = target.split("?", 1)[0]
        if (method, path) == ("POST", TOKEN_PATH) and self.hmac_scheme:
            return self._answer(TOKEN_SERVICE, lambda: self._issue_token(headers, body))
        route = self._routes.get((method, path))
        if route is None:
            if path in self._services:
                return self._refuse(self._services[path], 405, "00", "Method Not Allowed")
            return 404, {"responseCode": "4040000", "responseMessage": "Not Found"}
        service, handler = route

        def run() -> dict[str, Any]:
            payload = self._authenticate(method, target, headers, body)
            with self._lock:
                self.requests.append((path, headers, payload))
                self.calls.append((method, path, headers, payload))
                return handler(payload)

        return self._answer(service, run)

    def _answer(
        self, service: str, run: Callable[[], dict[str, Any]]
    ) -> tuple[int, dict[str, Any]]:
        try:
            answer = run()
        except Rejected as rejected:
            return self._refuse(service, rejected.status, rejected.case, rejected.message)
        return 200, {"responseCode": f"200{service}00", "responseMessage": "Successful", **answer}

    def _refuse(
        self, service: str, status: int, case: str, message: str
    ) -> tuple[int, dict[str, Any]]:
        code = f"{status}{service}{case}"
        with self._lock:
            self.refused.append(code)
        return status, {"responseCode": code, "responseMessage": message}

    def _check_stamp(self, lower: dict[str, str]) -> str:
        stamp = lower["x-timestamp"]
        if not STAMP.fullmatch(stamp):
            raise Rejected(400, "01", "Invalid Field Format X-TIMESTAMP")
        if abs(datetime.fromisoformat(stamp) - self.clock()) > timedelta(minutes=5):
            raise Rejected(401, "00", "Unauthorized. stale timestamp")
        return stamp

    @staticmethod
    def _check_json(lower: dict[str, str]) -> None:
        if lower.get("content-type", "").split(";")[0].strip() != "application/json":
            raise Rejected(400, "01", "Invalid Field Format Content-Type")

    def _issue_token(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """``POST /v1.0/access-token/b2b`` as the SNAP standard describes it."""
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("x-timestamp", "x-client-key", "x-signature"):
            if not lower.get(name):
                raise Rejected(400, "02", f"Invalid Mandatory Field {name.upper()}")
        self._check_json(lower)
        stamp = self._check_stamp(lower)
        if lower["x-client-key"] != self.client_key:
            raise Rejected(401, "00", "Unauthorized. Unknown client")
        try:
            signature = base64.b64decode(lower["x-signature"], validate=True)
            self.merchant_public.verify(
                signature,
                f"{self.client_key}|{stamp}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError) as error:
            raise Rejected(401, "00", "Unauthorized. Signature") from error
        try:
            grant = json.loads(body).get("grantType")
        except (ValueError, AttributeError) as error:
            raise Rejected(400, "01", "Invalid Field Format body") from error
        if grant != "client_credentials":
            raise Rejected(400, "01", "Invalid Field Format grantType")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = self.clock() + self.token_ttl
            self.tokens_issued += 1
            self.requests.append((TOKEN_PATH, headers, {"grantType": grant}))
            self.calls.append(("POST", TOKEN_PATH, headers, {"grantType": grant}))
        return {
            "accessToken": token,
            "tokenType": "Bearer",
            "expiresIn": str(int(self.token_ttl.total_seconds())),
        }

    def _authenticate(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("x-timestamp", "x-signature", "x-partner-id", "x-external-id", "channel-id"):
            if not lower.get(name):
                raise Rejected(400, "02", f"Invalid Mandatory Field {name.upper()}")
        self._check_json(lower)
        stamp = self._check_stamp(lower)
        if self.hmac_scheme:
            authorization = lower.get("authorization", "")
            token = authorization.removeprefix("Bearer ") if authorization[:7] == "Bearer " else ""
            with self._lock:
                expiry = self.tokens.get(token)
            if expiry is None or self.clock() >= expiry or not self.accept_tokens:
                raise Rejected(401, "01", "Invalid Token (B2B)")
            assert self.client_secret is not None
            expected = hmac_sign(self.client_secret, method, path, token, body, stamp)
            if not hmac.compare_digest(expected.encode(), lower["x-signature"].encode()):
                raise Rejected(401, "00", "Unauthorized. Signature")
        else:
            message = f"{method}:{path}:{hashlib.sha256(body).hexdigest()}:{stamp}".encode()
            try:
                signature = base64.b64decode(lower["x-signature"], validate=True)
                self.merchant_public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            except (InvalidSignature, ValueError) as error:
                raise Rejected(401, "00", "Unauthorized. Signature") from error
        external_id = lower["x-external-id"]
        if not (external_id.isdigit() or UUID.fullmatch(external_id)):
            raise Rejected(400, "01", "Invalid Field Format X-EXTERNAL-ID")
        with self._lock:
            if external_id in self._external_ids:
                raise Rejected(409, "00", "Conflict")
            self._external_ids.add(external_id)
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise Rejected(400, "01", "Invalid Field Format body") from error
        if not isinstance(payload, dict):
            raise Rejected(400, "01", "Invalid Field Format body")
        return payload

    def _fresh_number(self, digits: int, avoid: object = None) -> str:
        """A random ``digits``-digit string never generated before (and not ``avoid``)."""
        while True:
            number = "".join(secrets.choice("0123456789") for _ in range(digits))
            if number != avoid and number not in self._numbers and number[0] != "0":
                self._numbers.add(number)
                return number

    # -- virtual accounts --------------------------------------------------------------

    def _create_va(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("partnerServiceId", "virtualAccountNo"):
            if name in body:
                raise Rejected(400, "01", f"Invalid Field Format {name}")
        trx_id = _text(body, "trxId")
        name = _text(body, "virtualAccountName")
        kind = _text(body, "virtualAccountTrxType")
        expired = _text(body, "expiredDate")
        channel = _text(_info(body), "channel", "additionalInfo.")
        if not re.fullmatch(r"[A-Za-z0-9_-]{5,50}", trx_id):
            raise Rejected(400, "01", "Invalid Field Format trxId")
        if not re.fullmatch(r"[A-Za-z0-9_\- ]{5,24}", name):
            raise Rejected(400, "01", "Invalid Field Format virtualAccountName")
        if kind not in ("c", "o", "r") or (kind != "c" and channel in ONE_OFF_ONLY):
            raise Rejected(400, "01", "Invalid Field Format virtualAccountTrxType")
        if channel not in BINS:
            raise Rejected(400, "01", "Invalid Field Format additionalInfo.channel")
        open_without_amount = kind == "o" and "totalAmount" not in body
        amount = None if open_without_amount else _money(body, "totalAmount")
        asked = body.get("customerNo")
        if kind != "c" or asked is not None:
            asked = _text(body, "customerNo")
            if not re.fullmatch(r"\d{3,14}", asked):
                raise Rejected(400, "01", "Invalid Field Format customerNo")
        if not STAMP.fullmatch(expired) or "." in expired:
            raise Rejected(400, "01", "Invalid Field Format expiredDate")
        if datetime.fromisoformat(expired) <= self.clock():
            raise Rejected(400, "01", "Invalid Field Format expiredDate")
        if trx_id in self.vas:
            raise Rejected(409, "01", "Conflict")
        bin_ = BINS[channel].rjust(8)
        customer_no = self._fresh_number(11, avoid=asked)
        contract_id = "ci" + secrets.token_hex(15)
        data = {
            "partnerServiceId": bin_,
            "customerNo": customer_no,
            "virtualAccountNo": bin_ + customer_no,
            "virtualAccountName": name,
            "trxId": trx_id,
            "totalAmount": amount or {"value": "0.00", "currency": "IDR"},
            "virtualAccountTrxType": kind,
            "expiredDate": expired,
            "additionalInfo": {"channel": channel, "contractId": contract_id},
        }
        self.vas[trx_id] = data
        self.va_states[trx_id] = state = VaState()
        _VA_STATES[contract_id] = state
        return {"virtualAccountData": data}

    def _inquiry_va(self, body: dict[str, Any]) -> dict[str, Any]:
        trx_id = _text(body, "trxId")
        contract_id = _text(_info(body), "contractId", "additionalInfo.")
        va = self.vas.get(trx_id)
        if (
            va is None
            or va["additionalInfo"]["contractId"] != contract_id
            or self.va_states[trx_id].deleted
        ):
            raise Rejected(404, "01", "Invalid Bill/Virtual Account [Not Found]")
        return {"virtualAccountData": va}

    def _status(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail_status:
            raise Rejected(500, "00", "General Error")
        extra = _info(body)
        va_no = _text(body, "virtualAccountNo")
        trx_id = body.get("trxId") or extra.get("trxId")
        if not trx_id:
            raise Rejected(400, "02", "Invalid Mandatory Field trxId")
        contract_id = _text(extra, "contractId", "additionalInfo.")
        va = self.vas.get(trx_id)
        if va is None or va["virtualAccountNo"].replace(" ", "") != va_no.replace(" ", ""):
            raise Rejected(404, "01", "Transaction Not Found")
        if va["additionalInfo"]["contractId"] != contract_id:
            raise Rejected(500, "02", "Invalid contractId")
        payments = self.va_states[trx_id].payments
        flag = self.status_flags.get(trx_id, "00" if payments else "01")
        latest = payments[-1] if payments and flag == "00" else None
        return {
            "virtualAccountData": {
                "virtualAccountNo": va["virtualAccountNo"].replace(" ", ""),
                "virtualAccountName": va["virtualAccountName"],
                "paymentFlagStatus": flag,
                "transactionDate": (
                    latest.paid_at.astimezone(UTC).isoformat(timespec="seconds") if latest else ""
                ),
                "referenceNo": latest.reference_no if latest else "",
                "totalAmount": (
                    {"value": latest.value, "currency": "IDR"} if latest else va["totalAmount"]
                ),
            },
            "additionalInfo": {
                "contractId": contract_id,
                "channel": va["additionalInfo"]["channel"],
                "trxId": trx_id,
            },
        }

    def _delete_va(self, body: dict[str, Any]) -> dict[str, Any]:
        va_no = _text(body, "virtualAccountNo")
        trx_id = _text(body, "trxId")
        extra = _info(body)
        contract_id = _text(extra, "contractId", "additionalInfo.")
        va = self.vas.get(trx_id)
        if (
            va is None
            or va["virtualAccountNo"].replace(" ", "") != va_no.replace(" ", "")
            or va["additionalInfo"]["contractId"] != contract_id
            or extra.get("channel", va["additionalInfo"]["channel"])
            != va["additionalInfo"]["channel"]
            or self.va_states[trx_id].deleted
        ):
            raise Rejected(404, "01", "Invalid Bill/Virtual Account [Not Found]")
        self.va_states[trx_id].deleted = True
        self.deleted.add(trx_id)
        return {
            "virtualAccountData": {
                "virtualAccountNo": va["virtualAccountNo"],
                "trxId": trx_id,
                "additionalInfo": dict(va["additionalInfo"]),
            }
        }

    # -- QRIS and e-wallet ---------------------------------------------------------------

    def _new_transaction(
        self, body: dict[str, Any], book: dict[str, Transaction], prefix: str, channel: str
    ) -> Transaction:
        partner_ref = _text(body, "partnerReferenceNo")
        if not 5 <= len(partner_ref) <= 64:
            raise Rejected(400, "01", "Invalid Field Format partnerReferenceNo")
        amount = _money(body, "amount")
        for name in ("validityPeriod", "validUpTo"):
            if name in body and not STAMP.fullmatch(str(body[name])):
                raise Rejected(400, "01", f"Invalid Field Format {name}")
        if partner_ref in book:
            raise Rejected(409, "01", "Conflict")
        reference_no = prefix + self._fresh_number(12)
        book[partner_ref] = Transaction(reference_no, partner_ref, amount, channel)
        return book[partner_ref]

    def _find(self, body: dict[str, Any], book: dict[str, Transaction], code: str) -> Transaction:
        partner_ref = _text(body, "originalPartnerReferenceNo")
        if _text(body, "serviceCode") != code:
            raise Rejected(400, "01", "Invalid Field Format serviceCode")
        found = book.get(partner_ref)
        reference_no = body.get("originalReferenceNo")
        if found is None or reference_no not in (None, "", found.reference_no):
            raise Rejected(404, "01", "Transaction Not Found")
        return found

    @staticmethod
    def _snap_status(found: Transaction, code: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "originalReferenceNo": found.reference_no,
            "originalPartnerReferenceNo": found.partner_reference_no,
            "serviceCode": code,
            "latestTransactionStatus": found.status,
            "transactionStatusDesc": STATUS_DESC[found.status],
        }
        if found.status == "00" and found.paid_at is not None:
            answer["paidTime"] = wib_time(found.paid_at)
        answer["amount"] = dict(found.amount)
        return answer

    def _qris_generate(self, body: dict[str, Any]) -> dict[str, Any]:
        _info(body)
        found = self._new_transaction(body, self.qris, "QR", "QRIS")
        content = qris_payload(
            acquirer="ID.CO.WINPAY.WWW",
            merchant_pan="936000000000001",
            merchant_name="PAYLINK TEST",
            city="JAKARTA",
            amount=int(found.amount["value"].split(".")[0]),
            reference=found.partner_reference_no,
        )
        return {
            "referenceNo": found.reference_no,
            "partnerReferenceNo": found.partner_reference_no,
            "qrContent": content,
        }

    def _qris_query(self, body: dict[str, Any]) -> dict[str, Any]:
        _info(body)
        return self._snap_status(self._find(body, self.qris, "47"), "47") | {"additionalInfo": {}}

    def _ewallet_pay(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = _text(_info(body), "channel", "additionalInfo.")
        if channel not in EWALLET_CHANNELS:
            raise Rejected(400, "01", "Invalid Field Format additionalInfo.channel")
        urls = body.get("urlParams")
        if not urls:
            raise Rejected(400, "02", "Invalid Mandatory Field urlParams")
        if not isinstance(urls, list) or not all(
            isinstance(u, dict)
            and isinstance(u.get("url"), str)
            and u.get("type") == "PAY_RETURN"
            and u.get("isDeeplink") in ("Y", "N")
            for u in urls
        ):
            raise Rejected(400, "01", "Invalid Field Format urlParams")
        found = self._new_transaction(body, self.ewallets, "EW", channel)
        return {
            "referenceNo": found.reference_no,
            "partnerReferenceNo": found.partner_reference_no,
            "webRedirectUrl": f"{self.base_url}/ewallet/{found.reference_no}",
            "additionalInfo": {"channel": channel},
        }

    def _ewallet_status(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._snap_status(self._find(body, self.ewallets, "54"), "54")

    def _ewallet_page(self, reference_no: str) -> tuple[int, str, bytes]:
        with self._lock:
            found = next(
                (e for e in self.ewallets.values() if e.reference_no == reference_no), None
            )
        if found is None:
            return 404, "text/html; charset=utf-8", b"<!doctype html><title>Not found</title>"
        page = (
            f"<!doctype html><title>{found.channel}</title>"
            f"<h1>Pay Rp {found.amount['value']} with {found.channel}</h1>"
            f"<p>{found.reference_no}: {STATUS_DESC[found.status]}</p>"
        )
        return 200, "text/html; charset=utf-8", page.encode()

    # -- paying (test helpers, no HTTP) ----------------------------------------------------

    def pay(
        self, trx_id: str, *, amount: str | None = None, reference_no: str | None = None
    ) -> str:
        """Pay into a VA (``amount`` like "10000.00", default its total); Winpay's referenceNo.

        A one-off (``c``) VA takes one payment; ``o``/``r`` take many (status tells the
        latest). A deleted VA takes none (ValueError "deleted"); an unknown one: KeyError.
        """
        with self._lock:
            va, state = self.vas[trx_id], self.va_states[trx_id]
            if state.deleted:
                raise ValueError(f"VA {trx_id} is deleted")
            if state.payments and va["virtualAccountTrxType"] == "c":
                raise ValueError(f"one-off VA {trx_id} is already paid")
            value = amount or va["totalAmount"]["value"]
            if not AMOUNT.fullmatch(value):
                raise ValueError(f"pay an amount like 10000.00, not {value!r}")
            reference = reference_no or self._fresh_number(8)
            state.payments.append(VaPayment(reference, value, self.clock()))
            self.paid.add(trx_id)
            return reference

    def _settle(self, book: dict[str, Transaction], partner_ref: str, status: str) -> str:
        with self._lock:
            found = book[partner_ref]
            if found.status == "00":
                raise ValueError(f"{partner_ref} is already paid")
            found.status = status
            found.paid_at = self.clock() if status == "00" else None
            return found.reference_no

    def pay_qris(self, partner_reference_no: str) -> str:
        """The customer pays a QRIS (query then says 00); its referenceNo."""
        return self._settle(self.qris, partner_reference_no, "00")

    def fail_qris(self, partner_reference_no: str) -> str:
        """A QRIS payment fails (query says 06); its referenceNo."""
        return self._settle(self.qris, partner_reference_no, "06")

    def pay_ewallet(self, partner_reference_no: str) -> str:
        """The customer pays in the e-wallet app (status then says 00); its referenceNo."""
        return self._settle(self.ewallets, partner_reference_no, "00")

    def fail_ewallet(self, partner_reference_no: str) -> str:
        """An e-wallet payment fails (status says 06); its referenceNo."""
        return self._settle(self.ewallets, partner_reference_no, "06")

    # -- callbacks Winpay sends ------------------------------------------------------------

    def notify_body(
        self,
        kind: Literal["qris", "ewallet"],
        partner_reference_no: str,
        *,
        amount_style: Literal["decimal", "plain"] = "decimal",
        millis: bool = False,
    ) -> dict[str, Any]:
        """The QRIS or e-wallet payment notification (paid time: the payment's, or now if
        unpaid; an e-wallet's names its channel)."""
        found = (self.qris if kind == "qris" else self.ewallets)[partner_reference_no]
        info = {"channel": found.channel} if kind == "ewallet" else {}
        return {
            "originalReferenceNo": found.reference_no,
            "originalPartnerReferenceNo": found.partner_reference_no,
            "latestTransactionStatus": "00",
            "transactionStatusDesc": "Success",
            "amount": {"value": styled(found.amount["value"], amount_style), "currency": "IDR"},
            "additionalInfo": {
                **info,
                "paidTime": wib_time(found.paid_at or self.clock(), millis=millis),
            },
        }

    def callback(
        self,
        body: dict[str, Any] | bytes,
        *,
        stamp: datetime,
        external_id: str = "100000000001",
        key: rsa.RSAPrivateKey | None = None,
        path: str = VA_PAYMENT_PATH,
        secret: str | None = None,
        token: str | None = CALLBACK_TOKEN,
        millis: bool = False,
        pretty: bool = False,
        drop: tuple[str, ...] = (),
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a callback signed as Winpay signs it.

        ``path`` is the signed path relative to ``/v1.0/`` (the merchant's base prefix is
        not signed). The signature covers the minified body; ``pretty=True`` sends it
        indented (bytes are sent and signed as given). RSA scheme: signed with ``key``
        (default: Winpay's). Generic SNAP: HMAC-SHA512 with ``secret`` (default: the client
        secret) over ``token``, sent as ``Authorization: Bearer`` (``token=None``: no
        Authorization header, the token signed as empty). ``drop``: headers left out.
        """
        if isinstance(body, bytes):
            signed = raw = body
        else:
            signed = minified(body)
            raw = json.dumps(body, indent=2).encode() if pretty else signed
        timestamp = wib_time(stamp, millis=millis)
        if self.hmac_scheme and key is None:
            hmac_secret = secret if secret is not None else self.client_secret
            assert hmac_secret is not None
            signature = hmac_sign(hmac_secret, "POST", path, token or "", signed, timestamp)
        else:
            signature = rsa_sign(key or self.winpay_private, "POST", path, signed, timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-TIMESTAMP": timestamp,
            "X-SIGNATURE": signature,
            "X-PARTNER-ID": "PAYLINK",
            "X-EXTERNAL-ID": external_id,
            "CHANNEL-ID": "BSI",
        }
        if self.hmac_scheme and token is not None:
            headers["Authorization"] = f"Bearer {token}"
        dropped = {name.lower() for name in drop}
        return {k: v for k, v in headers.items() if k.lower() not in dropped}, raw

    def notify(
        self,
        base_url: str,
        body: dict[str, Any] | bytes,
        *,
        path: str = VA_PAYMENT_PATH,
        stamp: datetime | None = None,
        **callback_kwargs: Any,
    ) -> tuple[int, dict[str, Any]]:
        """Sign a callback and POST it to ``base_url + path``: HTTP status, JSON answer."""
        headers, raw = self.callback(
            body, stamp=stamp or self.clock(), path=path, **callback_kwargs
        )
        response = httpx.post(base_url.rstrip("/") + path, content=raw, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text}
        return response.status_code, answer if isinstance(answer, dict) else {"json": answer}


def payment_body() -> dict[str, Any]:
    """The VA payment callback body of Winpay's VA documentation (decimal amount)."""
    return {
        "partnerServiceId": "    9042",
        "customerNo": "00000009",
        "virtualAccountNo": "    904200000009",
        "virtualAccountName": "WINPAY - fiandi",
        "trxId": "INV-000000023220",
        "paymentRequestId": "45539",
        "paidAmount": {"value": "10000.00", "currency": "IDR"},
        "trxDateTime": "2024-01-11T08:57:55+07:00",
        "referenceNo": "45539",
        "additionalInfo": {"contractId": "si1cd5671d-1234", "channel": "BSI"},
    }


def va_payment_body(
    va: dict[str, Any],
    payment_request_id: str,
    paid_value: str | None = None,
    *,
    reference_no: str | None = None,
    amount_style: Literal["decimal", "plain"] = "decimal",
    fees: bool = False,
    millis: bool = False,
) -> dict[str, Any]:
    """The VA payment callback for a VA a counterpart created (``va``: its create answer).

    Defaults come from the VA's latest payment (``pay``) if any: its value, referenceNo
    and time; otherwise the VA's total, ``payment_request_id`` and now. ``fees`` adds
    ``feeAmount`` (``VA_FEE``) and ``nettAmount``.
    """
    state = _VA_STATES.get(va["additionalInfo"]["contractId"])
    latest = state.payments[-1] if state and state.payments else None
    value = paid_value or (latest.value if latest else va["totalAmount"]["value"])
    body: dict[str, Any] = {
        "partnerServiceId": va["partnerServiceId"],
        "customerNo": va["customerNo"],
        "virtualAccountNo": va["virtualAccountNo"],
        "virtualAccountName": va["virtualAccountName"],
        "trxId": va["trxId"],
        "paymentRequestId": payment_request_id,
        "paidAmount": {"value": styled(value, amount_style), "currency": "IDR"},
    }
    if fees:
        rupiah = int(styled(value, "plain").split(".")[0])
        fee, nett = str(VA_FEE), str(rupiah - VA_FEE)
        body["feeAmount"] = {"value": styled(fee, amount_style), "currency": "IDR"}
        body["nettAmount"] = {"value": styled(nett, amount_style), "currency": "IDR"}
    when = latest.paid_at if latest else datetime.now(WIB)
    body["trxDateTime"] = wib_time(when, millis=millis)
    body["referenceNo"] = reference_no or (latest.reference_no if latest else payment_request_id)
    body["additionalInfo"] = {
        "contractId": va["additionalInfo"]["contractId"],
        "channel": va["additionalInfo"]["channel"],
    }
    return body

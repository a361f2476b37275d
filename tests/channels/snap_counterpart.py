"""A local Winpay SNAP counterpart: create-va, status and qr-mpm-generate on 127.0.0.1.

Built from CHANNELS.md and the SNAP standard, independently of ``paylink_es.channels.snap``:
it verifies the merchant's signatures itself, answers with the documented response codes,
and signs VA payment callbacks.

Two schemes. RSA (Winpay's "asymmetric without access token", the default): requests are
SHA256withRSA with the merchant's key, callbacks with "Winpay's" private key. Generic SNAP
(give ``client_key`` and ``client_secret``): ``POST /v1.0/access-token/b2b`` issues bearer
tokens (the request signed SHA256withRSA over ``clientKey|X-TIMESTAMP``) that expire after
``token_ttl`` on the counterpart's ``clock``; every transactional request must carry a live
token (otherwise ``401xx01``) and an HMAC-SHA512 signature with the client secret over
``POST:path:token:sha256hex(body):X-TIMESTAMP`` (otherwise ``401xx00``); callbacks are
HMAC-signed the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paylink_es.channels.qris import qris_payload

WIB = timezone(timedelta(hours=7))
SERVICES = {
    "/v1.0/transfer-va/create-va": "27",
    "/v1.0/transfer-va/status": "26",
    "/v1.0/qr/qr-mpm-generate": "47",
}
TOKEN_PATH = "/v1.0/access-token/b2b"
TOKEN_SERVICE = "73"
CALLBACK_PATH = "/paylink/snap/v1.0/transfer-va/payment"
CALLBACK_TOKEN = "winpay-callback-token-0001"


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


class Rejected(Exception):
    """An answer other than success: HTTP status, case code, message."""

    def __init__(self, status: int, case: str, message: str) -> None:
        super().__init__(message)
        self.status, self.case, self.message = status, case, message


class WinpayCounterpart:
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
        self.vas: dict[str, dict[str, Any]] = {}
        self.paid: set[str] = set()
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._external_ids: set[str] = set()
        self._lock = threading.Lock()
        counterpart = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = counterpart.handle(self.path, dict(self.headers.items()), body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval makes shutdown (after every test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the counterpart listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> WinpayCounterpart:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def hmac_scheme(self) -> bool:
        """Whether this counterpart speaks generic SNAP (B2B token + HMAC-SHA512)."""
        return self.client_secret is not None

    def revoke_tokens(self) -> None:
        """Forget every issued token (as a provider restarting or rotating would)."""
        with self._lock:
            self.tokens.clear()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """Route one request; every failure becomes a SNAP error answer."""
        if path == TOKEN_PATH and self.hmac_scheme:
            try:
                return 200, self._issue_token(headers, body)
            except Rejected as rejected:
                code = f"{rejected.status}{TOKEN_SERVICE}{rejected.case}"
                self.refused.append(code)
                return rejected.status, {"responseCode": code, "responseMessage": rejected.message}
        service = SERVICES.get(path)
        if service is None:
            return 404, {"responseCode": "4040000", "responseMessage": "Not Found"}
        try:
            payload = self._authenticate(path, headers, body, service)
            with self._lock:
                self.requests.append((path, headers, payload))
                answer = getattr(self, "_" + service)(payload)
        except Rejected as rejected:
            code = f"{rejected.status}{service}{rejected.case}"
            self.refused.append(code)
            return rejected.status, {"responseCode": code, "responseMessage": rejected.message}
        return 200, {"responseCode": f"200{service}00", "responseMessage": "Successful", **answer}

    def _check_stamp(self, lower: dict[str, str]) -> str:
        stamp = lower["x-timestamp"]
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", stamp):
            raise Rejected(400, "01", "Invalid Field Format X-TIMESTAMP")
        if abs(datetime.fromisoformat(stamp) - self.clock()) > timedelta(minutes=5):
            raise Rejected(401, "00", "Unauthorized. stale timestamp")
        return stamp

    def _issue_token(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """``POST /v1.0/access-token/b2b`` as the SNAP standard describes it."""
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("x-timestamp", "x-client-key", "x-signature"):
            if not lower.get(name):
                raise Rejected(400, "02", f"Invalid Mandatory Field {name.upper()}")
        if lower.get("content-type") != "application/json":
            raise Rejected(400, "01", "Invalid Field Format Content-Type")
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
        return {
            "responseCode": f"200{TOKEN_SERVICE}00",
            "responseMessage": "Successful",
            "accessToken": token,
            "tokenType": "Bearer",
            "expiresIn": str(int(self.token_ttl.total_seconds())),
        }

    def _check_hmac(self, path: str, lower: dict[str, str], body: bytes, stamp: str) -> None:
        authorization = lower.get("authorization", "")
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
        with self._lock:
            expiry = self.tokens.get(token)
        if expiry is None or self.clock() >= expiry or not self.accept_tokens:
            raise Rejected(401, "01", "Invalid Token (B2B)")
        assert self.client_secret is not None
        expected = hmac_sign(self.client_secret, "POST", path, token, body, stamp)
        if not hmac.compare_digest(expected.encode(), lower["x-signature"].encode()):
            raise Rejected(401, "00", "Unauthorized. Signature")

    def _authenticate(
        self, path: str, headers: dict[str, str], body: bytes, service: str
    ) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("x-timestamp", "x-signature", "x-partner-id", "x-external-id", "channel-id"):
            if not lower.get(name):
                raise Rejected(400, "02", f"Invalid Mandatory Field {name.upper()}")
        if lower.get("content-type") != "application/json":
            raise Rejected(400, "01", "Invalid Field Format Content-Type")
        stamp = self._check_stamp(lower)
        if self.hmac_scheme:
            self._check_hmac(path, lower, body, stamp)
        else:
            message = f"POST:{path}:{hashlib.sha256(body).hexdigest()}:{stamp}".encode()
            try:
                signature = base64.b64decode(lower["x-signature"], validate=True)
                self.merchant_public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            except (InvalidSignature, ValueError) as error:
                raise Rejected(401, "00", "Unauthorized. Signature") from error
        external_id = lower["x-external-id"]
        with self._lock:
            if not external_id.isdigit():
                raise Rejected(400, "01", "Invalid Field Format X-EXTERNAL-ID")
            if external_id in self._external_ids:
                raise Rejected(409, "00", "Conflict")
            self._external_ids.add(external_id)
        payload = json.loads(body)
        assert isinstance(payload, dict)
        return payload

    def _27(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in (
            "partnerServiceId",
            "customerNo",
            "virtualAccountNo",
            "trxId",
            "totalAmount",
            "virtualAccountName",
            "virtualAccountTrxType",
            "expiredDate",
        ):
            if name not in body:
                raise Rejected(400, "02", f"Invalid Mandatory Field {name}")
        if len(body["partnerServiceId"]) != 8 or (
            body["virtualAccountNo"] != body["partnerServiceId"] + body["customerNo"]
        ):
            raise Rejected(400, "01", "Invalid Field Format virtualAccountNo")
        if not re.fullmatch(r"[1-9]\d*\.00", body["totalAmount"]["value"]):
            raise Rejected(400, "01", "Invalid Field Format totalAmount.value")
        if body["trxId"] in self.vas:
            raise Rejected(409, "01", "Conflict. Duplicate trxId")
        data = {
            key: body[key]
            for key in ("partnerServiceId", "customerNo", "virtualAccountNo", "trxId")
        }
        data |= {
            "virtualAccountName": body["virtualAccountName"],
            "totalAmount": body["totalAmount"],
            "expiredDate": body["expiredDate"],
            "additionalInfo": {
                "channel": body["additionalInfo"]["channel"],
                "contractId": f"ci{len(self.vas):08d}",
            },
        }
        self.vas[body["trxId"]] = data
        return {"virtualAccountData": data}

    def _26(self, body: dict[str, Any]) -> dict[str, Any]:
        va = self.vas.get(body.get("trxId", ""))
        if va is None or va["virtualAccountNo"] != body.get("virtualAccountNo"):
            raise Rejected(404, "01", "Transaction Not Found")
        data = {key: va[key] for key in ("partnerServiceId", "customerNo", "virtualAccountNo")}
        if body["trxId"] in self.paid:
            return {
                "virtualAccountData": data
                | {"paymentFlagStatus": "00", "paidAmount": va["totalAmount"]}
            }
        return {"virtualAccountData": data | {"paymentFlagStatus": "01"}}

    def _47(self, body: dict[str, Any]) -> dict[str, Any]:
        rupiah = int(body["amount"]["value"].split(".")[0])
        content = qris_payload(
            acquirer="ID.CO.WINPAY.WWW",
            merchant_pan="936000000000001",
            merchant_name="PAYLINK TEST",
            city="JAKARTA",
            amount=rupiah,
            reference=body["partnerReferenceNo"],
        )
        return {
            "referenceNo": f"R{len(self.requests):09d}",
            "partnerReferenceNo": body["partnerReferenceNo"],
            "qrContent": content,
        }

    def pay(self, trx_id: str) -> None:
        """Mark a virtual account paid (status then says 00)."""
        with self._lock:
            self.paid.add(trx_id)

    def callback(
        self,
        body: dict[str, Any] | bytes,
        *,
        stamp: datetime,
        external_id: str = "100000000001",
        key: rsa.RSAPrivateKey | None = None,
        path: str = CALLBACK_PATH,
        secret: str | None = None,
        token: str | None = CALLBACK_TOKEN,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and minified body of a VA payment callback signed as Winpay signs it.

        RSA scheme: signed with ``key`` (default: Winpay's). Generic SNAP: HMAC-SHA512 with
        ``secret`` (default: the client secret) over ``token``, sent as ``Authorization:
        Bearer`` (``token=None``: no Authorization header, the token signed as empty).
        """
        raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        timestamp = stamp.astimezone(WIB).isoformat(timespec="seconds")
        if self.hmac_scheme and key is None:
            hmac_secret = secret if secret is not None else self.client_secret
            assert hmac_secret is not None
            signature = hmac_sign(hmac_secret, "POST", path, token or "", raw, timestamp)
        else:
            signature = rsa_sign(key or self.winpay_private, "POST", path, raw, timestamp)
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
        return headers, raw


def payment_body() -> dict[str, Any]:
    """The callback body from CHANNELS.md."""
    return {
        "partnerServiceId": "    9042",
        "customerNo": "00000009",
        "virtualAccountNo": "    904200000009",
        "virtualAccountName": "WINPAY - fiandi",
        "trxId": "INV-000000023220",
        "paymentRequestId": "45539",
        "paidAmount": {"value": "10000.00", "currency": "IDR"},
        "trxDateTime": "2024-01-11T08:57:55+07:00",
        "additionalInfo": {"contractId": "si1cd5671d-1234", "channel": "BSI"},
    }


def va_payment_body(
    va: dict[str, Any], payment_request_id: str, paid_value: str | None = None
) -> dict[str, Any]:
    """The VA payment callback body for a VA the counterpart created (as Winpay sends it)."""
    return {
        "partnerServiceId": va["partnerServiceId"],
        "customerNo": va["customerNo"],
        "virtualAccountNo": va["virtualAccountNo"],
        "virtualAccountName": va["virtualAccountName"],
        "trxId": va["trxId"],
        "paymentRequestId": payment_request_id,
        "paidAmount": {
            "value": paid_value or va["totalAmount"]["value"],
            "currency": va["totalAmount"]["currency"],
        },
        "trxDateTime": datetime.now(WIB).isoformat(timespec="seconds"),
        "additionalInfo": {
            "contractId": va["additionalInfo"]["contractId"],
            "channel": va["additionalInfo"]["channel"],
        },
    }

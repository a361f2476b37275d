"""Generic SNAP behind the same client: the B2B token, HMAC-SHA512 requests and callbacks.

The counterpart issues and checks tokens and computes the HMAC itself (it shares no code
with ``paylink_es.channels.snap_*``); the client and the counterpart share a clock the tests
move, so expiry is exercised without sleeping.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paylink_es.channels.snap_callbacks import SnapCallbackVerifier, parse_va_payment
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_codes import (
    SnapAnswerInvalidError,
    SnapCallbackRejectedError,
    SnapRequestRejectedError,
    SnapUnreachableError,
    is_invalid_token,
)
from paylink_es.channels.snap_messages import minify
from paylink_es.channels.snap_signing import HmacVerifier, RsaSigner
from paylink_es.channels.snap_tokens import AccessToken, AccessTokenCache, B2BCredentials
from paylink_es.channels.winpay import CALLBACK_PATH
from paylink_es.channels.winpay_api import VaRef, VirtualAccount, WinpayApi
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.money import Money
from paylink_es.locale import WIB
from tests.integration.channels.conftest import CLIENT_KEY, CLIENT_SECRET
from tests.support.snap_counterpart import (
    CALLBACK_TOKEN,
    TOKEN_PATH,
    WinpayCounterpart,
    hmac_sign,
    payment_body,
)

CREATE = "/v1.0/transfer-va/create-va"
STATUS = "/v1.0/transfer-va/status"
DELETE = "/v1.0/transfer-va/delete-va"


def hmac_client(
    counterpart: WinpayCounterpart,
    key: rsa.RSAPrivateKey,
    clock: FakeClock,
    *,
    client_key: str = CLIENT_KEY,
    secret: str = CLIENT_SECRET,
) -> SnapClient:
    return SnapClient(
        base_url=counterpart.base_url,
        partner_id="PAYLINK",
        channel_id="WEB",
        clock=clock,
        b2b=B2BCredentials(client_key, secret, RsaSigner(key)),
    )


@pytest.fixture
def client(
    hmac_counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey, snap_clock: FakeClock
) -> Iterator[SnapClient]:
    with hmac_client(hmac_counterpart, merchant_key, snap_clock) as built:
        yield built


def create(client: SnapClient, clock: FakeClock, trx_id: str) -> VirtualAccount:
    return WinpayApi(client).create_va(
        name="Paylink customer",
        trx_id=trx_id,
        amount=Money(10_000, "IDR"),
        method="va_bri",
        expires_at=clock() + timedelta(days=1),
    )


def ref_of(va: VirtualAccount) -> VaRef:
    return VaRef(va.virtual_account_no, va.trx_id, va.contract_id, va.channel)


def status(client: SnapClient, va: VirtualAccount) -> bool:
    return WinpayApi(client).va_status(ref_of(va)).paid


def sent(counterpart: WinpayCounterpart, path: str) -> list[dict[str, str]]:
    """The headers of every accepted request to ``path``."""
    return [headers for p, headers, _ in counterpart.requests if p == path]


# -- the token ----------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_reused_and_every_request_is_hmac_signed(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    va = create(client, snap_clock, "INV-HMAC-1")
    assert status(client, va) is False
    hmac_counterpart.pay("INV-HMAC-1")
    assert status(client, va) is True
    WinpayApi(client).generate_qris(partner_reference_no="QR-HMAC-1", amount=Money(5_000, "IDR"))

    assert hmac_counterpart.tokens_issued == 1
    assert client.tokens is not None
    assert client.tokens.fetches == 1
    assert hmac_counterpart.refused == []
    (token_request,) = sent(hmac_counterpart, TOKEN_PATH)
    assert token_request["X-CLIENT-KEY"] == CLIENT_KEY
    assert "Authorization" not in token_request
    (token,) = hmac_counterpart.tokens
    transactional = [h for p, h, _ in hmac_counterpart.requests if p != TOKEN_PATH]
    assert len(transactional) == 4
    assert {h["Authorization"] for h in transactional} == {f"Bearer {token}"}
    # The signature is the HMAC the counterpart computes on its own.
    path, headers, payload = next(r for r in hmac_counterpart.requests if r[0] == CREATE)
    stamp = headers["X-TIMESTAMP"]
    expected = hmac_sign(CLIENT_SECRET, "POST", path, token, minify(payload), stamp)
    assert headers["X-SIGNATURE"] == expected
    assert client.scheme == "HMAC-SHA512"


def test_the_token_is_refreshed_before_it_expires_without_a_refusal(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    va = create(client, snap_clock, "INV-HMAC-2")
    first = set(hmac_counterpart.tokens)
    snap_clock.advance(timedelta(minutes=13))  # 15-minute tokens: still fresh
    status(client, va)
    assert hmac_counterpart.tokens_issued == 1
    snap_clock.advance(timedelta(minutes=1, seconds=30))  # 30 s before expiry: due
    status(client, va)
    assert hmac_counterpart.tokens_issued == 2
    snap_clock.advance(timedelta(hours=3))  # long expired: fetched again, before sending
    status(client, va)
    assert hmac_counterpart.tokens_issued == 3
    assert hmac_counterpart.refused == [], "a request went out with a stale token"
    last = sent(hmac_counterpart, STATUS)[-1]["Authorization"]
    assert last.removeprefix("Bearer ") not in first


def test_an_invalid_token_answer_fetches_a_new_one_and_sends_once_more(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    va = create(client, snap_clock, "INV-HMAC-3")
    hmac_counterpart.revoke_tokens()  # the provider forgot it; the client cannot know
    assert status(client, va) is False
    assert hmac_counterpart.refused == ["4012601"]
    assert hmac_counterpart.tokens_issued == 2
    status(client, va)  # and the new one is reused
    assert hmac_counterpart.tokens_issued == 2


def test_a_token_refused_again_is_an_error_not_a_loop(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    hmac_counterpart.accept_tokens = False
    with pytest.raises(SnapRequestRejectedError) as caught:
        create(client, snap_clock, "INV-HMAC-4")
    assert (caught.value.response_code, caught.value.http_status) == ("4012701", 401)
    assert hmac_counterpart.refused == ["4012701", "4012701"]
    assert hmac_counterpart.tokens_issued == 2
    assert hmac_counterpart.vas == {}


def test_concurrent_first_requests_share_one_token(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def one(index: int) -> None:
        start.wait()
        try:
            create(client, snap_clock, f"INV-PAR-{index}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(hmac_counterpart.vas) == 8
    assert hmac_counterpart.tokens_issued == 1


def test_a_bad_hmac_is_refused_by_the_counterpart(
    hmac_counterpart: WinpayCounterpart, merchant_key: rsa.RSAPrivateKey, snap_clock: FakeClock
) -> None:
    with (
        hmac_client(hmac_counterpart, merchant_key, snap_clock, secret="not-the-secret") as wrong,
        pytest.raises(SnapRequestRejectedError) as caught,
    ):
        create(wrong, snap_clock, "INV-HMAC-5")
    assert (caught.value.response_code, caught.value.http_status) == ("4012700", 401)
    assert hmac_counterpart.tokens_issued == 1  # the token was fine; the HMAC was not
    assert hmac_counterpart.vas == {}

    # A good token and a signature over other bytes than those sent: refused too.
    (token,) = hmac_counterpart.tokens
    stamp = snap_clock().isoformat(timespec="seconds")
    signed = minify({"trxId": "INV-HMAC-5"})
    body = minify({"trxId": "INV-HMAC-6"})
    response = httpx.post(
        f"{hmac_counterpart.base_url}{STATUS}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-TIMESTAMP": stamp,
            "X-SIGNATURE": hmac_sign(CLIENT_SECRET, "POST", STATUS, token, signed, stamp),
            "X-PARTNER-ID": "PAYLINK",
            "X-EXTERNAL-ID": "1",
            "CHANNEL-ID": "WEB",
            "Authorization": f"Bearer {token}",
        },
    )
    assert (response.status_code, response.json()["responseCode"]) == (401, "4012600")


def test_a_token_request_signed_with_another_key_or_client_is_refused(
    hmac_counterpart: WinpayCounterpart,
    winpay_key: rsa.RSAPrivateKey,
    merchant_key: rsa.RSAPrivateKey,
    snap_clock: FakeClock,
) -> None:
    with (
        hmac_client(hmac_counterpart, winpay_key, snap_clock) as other_key,
        pytest.raises(SnapRequestRejectedError) as caught,
    ):
        create(other_key, snap_clock, "INV-HMAC-7")
    assert caught.value.response_code == "4017300"
    with (
        hmac_client(hmac_counterpart, merchant_key, snap_clock, client_key="SOMEONE") as other,
        pytest.raises(SnapRequestRejectedError) as unknown,
    ):
        create(other, snap_clock, "INV-HMAC-7")
    assert unknown.value.response_code == "4017300"
    assert hmac_counterpart.tokens_issued == 0
    assert hmac_counterpart.vas == {}


def test_invalid_token_codes_are_401_case_01_of_any_service() -> None:
    assert is_invalid_token("4012701")
    assert is_invalid_token("4012601")
    assert not is_invalid_token("4012700")
    assert not is_invalid_token("4042601")
    assert not is_invalid_token("401270")


# -- the token cache on its own -------------------------------------------------------------


def test_a_failed_refresh_keeps_the_unexpired_token_and_then_fails() -> None:
    clock = FakeClock(datetime(2024, 1, 11, 9, 0, tzinfo=WIB))
    answers: list[AccessToken | Exception] = [
        AccessToken("t1", clock(), clock() + timedelta(minutes=15)),
        SnapUnreachableError("down"),
        SnapUnreachableError("down"),
    ]

    def fetch() -> AccessToken:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = AccessTokenCache(fetch, clock)
    assert cache.get().value == "t1"
    clock.advance(timedelta(minutes=14, seconds=30))  # due, refresh fails, still valid
    assert cache.get().value == "t1"
    clock.advance(timedelta(minutes=1))  # expired and the refresh fails: an error
    with pytest.raises(SnapUnreachableError):
        cache.get()
    assert "t1" not in repr(cache)
    assert "t1" not in repr(AccessToken("t1", clock(), clock()))


def test_bad_token_answers_are_typed_and_never_cached(
    merchant_key: rsa.RSAPrivateKey, snap_clock: FakeClock
) -> None:
    cases: list[dict[str, Any]] = [
        {"responseCode": "2007300", "tokenType": "Bearer", "expiresIn": "900"},
        {"responseCode": "2007300", "accessToken": "a", "tokenType": "MAC", "expiresIn": 900},
        {"responseCode": "2007300", "accessToken": "a", "tokenType": "Bearer", "expiresIn": "x"},
        {"responseCode": "2007300", "accessToken": "a", "tokenType": "Bearer", "expiresIn": 0},
    ]
    for answer in cases:
        transport = httpx.MockTransport(lambda _, a=answer: httpx.Response(200, json=a))
        with SnapClient(
            base_url="http://127.0.0.1:9",
            partner_id="P",
            channel_id="C",
            clock=snap_clock,
            b2b=B2BCredentials(CLIENT_KEY, CLIENT_SECRET, RsaSigner(merchant_key)),
            transport=transport,
        ) as broken:
            with pytest.raises(SnapAnswerInvalidError, match=r"accessToken|Bearer|expiresIn"):
                WinpayApi(broken).va_status(VaRef("    9042123", "T-1234", "ci1", "BSI"))
            assert broken.tokens is not None
            assert broken.tokens.fetches == 0, answer


def test_the_token_and_the_secret_never_show_in_reprs_or_logs(
    client: SnapClient,
    hmac_counterpart: WinpayCounterpart,
    snap_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        va = create(client, snap_clock, "INV-HMAC-8")
        hmac_counterpart.revoke_tokens()
        status(client, va)
    tokens = [
        h["Authorization"].removeprefix("Bearer ")
        for p, h, _ in hmac_counterpart.requests
        if p != TOKEN_PATH
    ]
    assert len(set(tokens)) == 2
    shown = caplog.text + repr(client) + repr(client.tokens) + repr(client._b2b)
    for token in tokens:
        assert token not in shown
    assert CLIENT_SECRET not in shown
    assert "new B2B token" in caplog.text  # the retry is logged, without the token
    with pytest.raises(ValueError, match="either"):
        SnapClient(base_url="http://127.0.0.1:9", partner_id="P", channel_id="C", clock=snap_clock)


# -- HMAC-signed callbacks -------------------------------------------------------------------

NOW = datetime(2024, 1, 11, 9, 0, 5, tzinfo=WIB)


def verify(headers: dict[str, str], body: bytes, secret: str = CLIENT_SECRET) -> str:
    verifier = SnapCallbackVerifier(HmacVerifier(secret))
    assert verifier.scheme == "HMAC-SHA512"
    try:
        signed = verifier.authenticate("POST", CALLBACK_PATH, headers, body, NOW)
        payment = parse_va_payment(signed.body)
    except SnapCallbackRejectedError as rejected:
        return rejected.response_code
    return payment.trx_id


def test_hmac_callbacks_are_checked_with_the_shared_secret_over_the_bearer_token(
    hmac_counterpart: WinpayCounterpart,
) -> None:
    headers, body = hmac_counterpart.callback(payment_body(), stamp=NOW)
    assert headers["Authorization"] == f"Bearer {CALLBACK_TOKEN}"
    assert verify(headers, body) == "INV-000000023220"
    assert verify(headers, body, secret="another-secret") == "4012500"
    forged, _ = hmac_counterpart.callback(payment_body(), stamp=NOW, secret="guess")
    assert verify(forged, body) == "4012500"
    swapped = {**headers, "Authorization": "Bearer another-token"}
    assert verify(swapped, body) == "4012500"
    altered = body.replace(b'"10000.00"', b'"90000.00"')
    assert verify(headers, altered) == "4012500"
    tokenless, raw = hmac_counterpart.callback(payment_body(), stamp=NOW, token=None)
    assert "Authorization" not in tokenless
    assert verify(tokenless, raw) == "4012501"
    assert verify({**headers, "Authorization": "Basic abc"}, body) == "4012501"
    stale, raw = hmac_counterpart.callback(payment_body(), stamp=NOW - timedelta(minutes=6))
    assert verify(stale, raw) == "4012500"
    assert json.loads(body)["trxId"] == "INV-000000023220"


def test_a_token_check_can_refuse_tokens_we_did_not_issue(
    hmac_counterpart: WinpayCounterpart,
) -> None:
    headers, body = hmac_counterpart.callback(payment_body(), stamp=NOW)
    strict = SnapCallbackVerifier(HmacVerifier(CLIENT_SECRET, lambda token: token == "ours"))
    with pytest.raises(SnapCallbackRejectedError) as caught:
        strict.authenticate("POST", CALLBACK_PATH, headers, body, NOW)
    assert caught.value.response_code == "4012501"
    assert caught.value.reason == "Invalid Token (B2B)"
    assert "another" not in repr(HmacVerifier("another-secret"))
    ours, raw = hmac_counterpart.callback(payment_body(), stamp=NOW, token="ours")
    assert strict.authenticate("POST", CALLBACK_PATH, ours, raw, NOW).service == "25"


def test_hmac_callbacks_pretty_printed_or_with_milliseconds_are_accepted(
    hmac_counterpart: WinpayCounterpart,
) -> None:
    for pretty, millis in ((True, False), (False, True), (True, True)):
        headers, body = hmac_counterpart.callback(
            payment_body(), stamp=NOW, pretty=pretty, millis=millis
        )
        assert verify(headers, body) == "INV-000000023220", (pretty, millis)


def test_an_hmac_callback_without_its_headers_is_4002502_before_any_token_check(
    hmac_counterpart: WinpayCounterpart,
) -> None:
    for header in ("X-TIMESTAMP", "X-SIGNATURE", "X-EXTERNAL-ID"):
        headers, body = hmac_counterpart.callback(payment_body(), stamp=NOW, drop=(header,))
        assert verify(headers, body) == "4002502", header


def test_status_by_get_and_delete_are_hmac_signed_with_their_own_method(
    client: SnapClient, hmac_counterpart: WinpayCounterpart, snap_clock: FakeClock
) -> None:
    va = create(client, snap_clock, "INV-HMAC-9")
    by_get = WinpayApi(client, status_method="GET")
    assert by_get.va_status(ref_of(va)).paid is False
    by_get.delete_va(ref_of(va))
    methods = [(method, path) for method, path, _, _ in hmac_counterpart.calls]
    assert ("GET", STATUS) in methods
    assert ("DELETE", DELETE) in methods
    assert hmac_counterpart.refused == []
    assert hmac_counterpart.deleted == {"INV-HMAC-9"}

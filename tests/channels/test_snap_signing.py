"""Signatures: the string to sign, RSA and HMAC behind one interface, keys kept secret."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.channels.snap import (
    WIB,
    ExternalIdGenerator,
    HmacSigner,
    RsaSigner,
    RsaVerifier,
    Signer,
    Verifier,
    minify,
    pad_partner_service_id,
    request_headers,
    snap_timestamp,
    string_to_sign,
)
from paylink_es.channels.snap_codes import SnapKeyInvalidError
from tests.channels.snap_counterpart import private_pem, public_pem

STAMP = "2024-01-11T08:57:55+07:00"


def test_the_string_to_sign_hashes_the_minified_body() -> None:
    body = minify({"a": 1, "b": [1, 2]})
    assert body == b'{"a":1,"b":[1,2]}'
    assert string_to_sign("post", "/v1.0/transfer-va/create-va", body, STAMP) == (
        f"POST:/v1.0/transfer-va/create-va:{hashlib.sha256(body).hexdigest()}:{STAMP}"
    )
    assert string_to_sign("POST", "/p", b"{}", STAMP).split(":")[2] == (
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_timestamps_are_seconds_in_jakarta_time() -> None:
    utc = datetime(2024, 1, 11, 1, 57, 55, 123456, tzinfo=WIB).astimezone(WIB)
    assert snap_timestamp(utc) == "2024-01-11T01:57:55+07:00"
    with pytest.raises(ValueError, match="aware"):
        snap_timestamp(datetime(2024, 1, 11))  # noqa: DTZ001


def test_partner_service_id_is_left_padded_with_spaces() -> None:
    assert pad_partner_service_id("9042") == "    9042"
    assert pad_partner_service_id("12345678") == "12345678"


def test_headers_carry_everything_snap_asks_for(merchant_key: rsa.RSAPrivateKey) -> None:
    signer = RsaSigner(merchant_key)
    headers = request_headers(
        signer=signer,
        method="POST",
        path="/v1.0/qr/qr-mpm-generate",
        body=b"{}",
        timestamp=STAMP,
        partner_id="P1",
        external_id="0100",
        channel_id="WEB",
    )
    assert headers["Content-Type"] == "application/json"
    assert (headers["X-TIMESTAMP"], headers["X-PARTNER-ID"]) == (STAMP, "P1")
    assert (headers["X-EXTERNAL-ID"], headers["CHANNEL-ID"]) == ("0100", "WEB")
    verifier = RsaVerifier(merchant_key.public_key())
    assert verifier.verify("POST", "/v1.0/qr/qr-mpm-generate", b"{}", STAMP, headers["X-SIGNATURE"])
    assert "Authorization" not in headers


def test_keys_load_from_pem_and_never_print(merchant_key: rsa.RSAPrivateKey) -> None:
    pem = private_pem(merchant_key)
    signer = RsaSigner.from_pem(pem)
    verifier = RsaVerifier.from_pem(public_pem(merchant_key))
    assert verifier.verify("POST", "/p", b"x", STAMP, signer.sign("POST", "/p", b"x", STAMP))
    secret_line = pem.splitlines()[1]
    assert secret_line not in repr(signer)
    assert "PRIVATE KEY-----" not in repr(signer)
    assert signer.public_key_pem() == public_pem(merchant_key)
    hmac_signer = HmacSigner("s3cr3t-client", "tok-123")
    assert "s3cr3t" not in repr(hmac_signer)
    assert "tok-123" not in repr(hmac_signer)


def test_a_key_of_the_wrong_kind_is_refused(merchant_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(SnapKeyInvalidError):
        RsaSigner.from_pem(ec_pem)
    with pytest.raises(SnapKeyInvalidError):
        RsaSigner.from_pem(public_pem(merchant_key))
    with pytest.raises(SnapKeyInvalidError):
        RsaVerifier.from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


def test_the_generic_hmac_scheme_round_trips_and_carries_the_token() -> None:
    signer = HmacSigner("client-secret", "b2b-token")
    signature = signer.sign("POST", "/v1.0/transfer-va/create-va", b"{}", STAMP)
    assert signer.verify("POST", "/v1.0/transfer-va/create-va", b"{}", STAMP, signature)
    assert signer.auth_headers() == {"Authorization": "Bearer b2b-token"}
    wrong_token = HmacSigner("client-secret", "other-token")
    wrong_secret = HmacSigner("other-secret", "b2b-token")
    for other in (wrong_token, wrong_secret):
        assert not other.verify("POST", "/v1.0/transfer-va/create-va", b"{}", STAMP, signature)
    assert not signer.verify("POST", "/v1.0/transfer-va/create-va", b"{}", STAMP, "AAAA")


def test_a_garbled_rsa_signature_is_just_invalid(merchant_key: rsa.RSAPrivateKey) -> None:
    verifier = RsaVerifier(merchant_key.public_key())
    assert not verifier.verify("POST", "/p", b"{}", STAMP, "not base64!!")
    assert not verifier.verify("POST", "/p", b"{}", STAMP, "")


def schemes(key: rsa.RSAPrivateKey) -> list[tuple[Signer, Verifier]]:
    hmac_signer = HmacSigner("client-secret", "b2b-token")
    return [(RsaSigner(key), RsaVerifier(key.public_key())), (hmac_signer, hmac_signer)]


@settings(max_examples=25, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=200), where=st.integers(min_value=0), bit=st.integers(0, 7)
)
def test_any_body_verifies_and_any_flipped_byte_does_not(
    merchant_key: rsa.RSAPrivateKey, body: bytes, where: int, bit: int
) -> None:
    index = where % len(body)
    flipped = body[:index] + bytes([body[index] ^ (1 << bit)]) + body[index + 1 :]
    for signer, verifier in schemes(merchant_key):
        signature = signer.sign("POST", "/v1.0/transfer-va/payment", body, STAMP)
        assert verifier.verify("POST", "/v1.0/transfer-va/payment", body, STAMP, signature)
        assert not verifier.verify("POST", "/v1.0/transfer-va/payment", flipped, STAMP, signature)


def test_external_ids_never_repeat_within_a_day_even_on_a_frozen_clock() -> None:
    moment = datetime(2024, 1, 11, 23, 59, 59, 999_000, tzinfo=WIB)
    generate = ExternalIdGenerator(lambda: moment, node=7)
    ids = [generate() for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.isdigit() and i.startswith("07") for i in ids)


def test_external_ids_follow_the_clock_and_start_over_the_next_day() -> None:
    now = [datetime(2024, 1, 11, 10, 0, tzinfo=WIB)]
    generate = ExternalIdGenerator(lambda: now[0])
    first = generate()
    now[0] += timedelta(days=1)
    assert generate() == first
    now[0] -= timedelta(seconds=1)  # the clock stepping back within a day repeats nothing
    assert int(generate()) > int(first)

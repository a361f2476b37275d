"""Signatures: the string to sign, RSA and HMAC behind one interface, keys in every form
providers hand them out in (PEM PKCS#1 / PKCS#8 / SPKI, bare base64 DER), kept secret."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from paylink_es.channels.snap_client import ExternalIdGenerator, request_headers
from paylink_es.channels.snap_codes import SnapKeyInvalidError
from paylink_es.channels.snap_keys import load_private_key, load_public_key
from paylink_es.channels.snap_messages import minify, snap_timestamp
from paylink_es.channels.snap_signing import (
    HmacSigner,
    RsaSigner,
    RsaVerifier,
    Signer,
    Verifier,
    string_to_sign,
)
from paylink_es.locale import WIB
from tests.support.examples import scaled
from tests.support.snap_counterpart import private_pem, public_pem, rsa_sign

STAMP = "2024-01-11T08:57:55+07:00"
NO_ENCRYPTION = serialization.NoEncryption()


def test_the_string_to_sign_hashes_the_minified_body() -> None:
    body = minify({"a": 1, "b": [1, 2]})
    assert body == b'{"a":1,"b":[1,2]}'
    assert string_to_sign("post", "/v1.0/transfer-va/create-va", body, STAMP) == (
        f"POST:/v1.0/transfer-va/create-va:{hashlib.sha256(body).hexdigest()}:{STAMP}"
    )
    assert string_to_sign("POST", "/p", b"{}", STAMP).split(":")[2] == (
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_the_method_is_part_of_the_signature(merchant_key: rsa.RSAPrivateKey) -> None:
    """DELETE delete-va and GET status are signed with their own method."""
    signer, verifier = RsaSigner(merchant_key), RsaVerifier(merchant_key.public_key())
    path = "/v1.0/transfer-va/delete-va"
    signature = signer.sign("DELETE", path, b"{}", STAMP)
    assert verifier.verify("DELETE", path, b"{}", STAMP, signature)
    assert not verifier.verify("POST", path, b"{}", STAMP, signature)
    assert string_to_sign("delete", path, b"{}", STAMP).startswith("DELETE:/v1.0/")


def test_our_signature_is_what_an_independent_implementation_computes(
    merchant_key: rsa.RSAPrivateKey,
) -> None:
    """PKCS#1 v1.5 signatures are deterministic: ours equals the counterpart's own."""
    body = minify({"trxId": "INV-0001"})
    ours = RsaSigner(merchant_key).sign("POST", "/v1.0/transfer-va/status", body, STAMP)
    theirs = rsa_sign(merchant_key, "POST", "/v1.0/transfer-va/status", body, STAMP)
    assert ours == theirs


def test_timestamps_are_seconds_in_jakarta_time() -> None:
    utc = datetime(2024, 1, 11, 1, 57, 55, 123456, tzinfo=WIB).astimezone(WIB)
    assert snap_timestamp(utc) == "2024-01-11T01:57:55+07:00"
    assert snap_timestamp(datetime.fromisoformat("2024-01-11T01:57:55Z")) == (
        "2024-01-11T08:57:55+07:00"
    )
    with pytest.raises(ValueError, match="aware"):
        snap_timestamp(datetime(2024, 1, 11))  # noqa: DTZ001


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


# -- every form a key comes in ----------------------------------------------------------------


def private_forms(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The private key as PKCS#1 PEM, PKCS#8 PEM, bare base64 DER (both), one-line PEM."""
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, NO_ENCRYPTION
    ).decode()
    pkcs8 = private_pem(key)

    def der(form: serialization.PrivateFormat) -> str:
        return base64.b64encode(
            key.private_bytes(serialization.Encoding.DER, form, NO_ENCRYPTION)
        ).decode()

    der8 = der(serialization.PrivateFormat.PKCS8)
    return {
        "PKCS#1 PEM": pkcs1,
        "PKCS#8 PEM": pkcs8,
        "bare base64 DER (PKCS#8)": der8,
        "bare base64 DER (PKCS#1)": der(serialization.PrivateFormat.TraditionalOpenSSL),
        "PEM on one line with literal \\n": pkcs8.replace("\n", "\\n"),
        "base64 DER wrapped in lines": "\n".join(der8[i : i + 64] for i in range(0, len(der8), 64)),
        "PEM with surrounding blanks": f"\n  {pkcs1}\n\n",
    }


def public_forms(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The public key as SPKI PEM, PKCS#1 PEM and bare base64 DER of both."""
    public = key.public_key()

    def encoded(encoding: serialization.Encoding, form: serialization.PublicFormat) -> bytes:
        return public.public_bytes(encoding, form)

    spki, pkcs1 = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    return {
        "SPKI PEM": encoded(pem, spki).decode(),
        "PKCS#1 PEM": encoded(pem, pkcs1).decode(),
        "bare base64 DER (SPKI)": base64.b64encode(encoded(der, spki)).decode(),
        "bare base64 DER (PKCS#1)": base64.b64encode(encoded(der, pkcs1)).decode(),
        "SPKI PEM on one line with literal \\n": encoded(pem, spki).decode().replace("\n", "\\n"),
    }


def test_a_private_key_loads_in_every_form_providers_use(merchant_key: rsa.RSAPrivateKey) -> None:
    verifier = RsaVerifier(merchant_key.public_key())
    for form, text in private_forms(merchant_key).items():
        loaded = load_private_key(text)
        assert loaded.private_numbers() == merchant_key.private_numbers(), form
        signer = RsaSigner.from_pem(text)
        assert verifier.verify("POST", "/p", b"{}", STAMP, signer.sign("POST", "/p", b"{}", STAMP))


def test_a_public_key_loads_in_every_form_providers_use(merchant_key: rsa.RSAPrivateKey) -> None:
    signature = RsaSigner(merchant_key).sign("POST", "/p", b"{}", STAMP)
    for form, text in public_forms(merchant_key).items():
        loaded = load_public_key(text)
        assert loaded.public_numbers() == merchant_key.public_key().public_numbers(), form
        assert RsaVerifier.from_pem(text).verify("POST", "/p", b"{}", STAMP, signature), form


def test_an_encrypted_private_key_needs_its_password(merchant_key: rsa.RSAPrivateKey) -> None:
    locked = merchant_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-phrase"),
    ).decode()
    assert load_private_key(locked, "pass-phrase").private_numbers() == (
        merchant_key.private_numbers()
    )
    for password in (None, "wrong"):
        with pytest.raises(SnapKeyInvalidError) as caught:
            load_private_key(locked, password)
        assert "pass-phrase" not in str(caught.value)


GARBAGE = [
    "",
    "   ",
    "garbage",
    "AAAA",
    "not base64 at all!",
    "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
]


@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_is_not_a_key_and_the_message_shows_none_of_it(text: str) -> None:
    for load in (load_private_key, load_public_key):
        with pytest.raises(SnapKeyInvalidError) as caught:
            load(text)
        message = str(caught.value)
        assert "key" in message
        if text.strip():
            assert text.strip() not in message


def test_a_truncated_or_altered_key_is_refused_without_showing_it(
    merchant_key: rsa.RSAPrivateKey,
) -> None:
    for form, text in private_forms(merchant_key).items():
        lines = text.replace("\\n", "\n").strip().splitlines()
        body = "\n".join(lines[: len(lines) // 2]) if len(lines) > 3 else text[: len(text) // 2]
        with pytest.raises(SnapKeyInvalidError) as caught:
            load_private_key(body)
        shown = str(caught.value) + repr(caught.value)
        for line in lines[1:-1] or [text]:
            assert line not in shown, form
        assert "PRIVATE KEY-----" not in shown


def test_a_key_of_the_wrong_kind_is_refused(merchant_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, NO_ENCRYPTION
    ).decode()
    ec_public = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(SnapKeyInvalidError, match="not an RSA key"):
        RsaSigner.from_pem(ec_pem)
    with pytest.raises(SnapKeyInvalidError, match="not an RSA key"):
        RsaVerifier.from_pem(ec_public)
    with pytest.raises(SnapKeyInvalidError):
        RsaSigner.from_pem(public_pem(merchant_key))  # a public key where the private goes
    with pytest.raises(SnapKeyInvalidError):
        RsaVerifier.from_pem(private_pem(merchant_key))  # and the other way round
    with pytest.raises(SnapKeyInvalidError):
        RsaVerifier.from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


# -- the schemes -----------------------------------------------------------------------------


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


@settings(max_examples=scaled(25), deadline=None)
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


# -- X-EXTERNAL-ID --------------------------------------------------------------------------


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


def test_an_external_id_node_is_two_digits() -> None:
    with pytest.raises(ValueError, match=r"0\.\.99"):
        ExternalIdGenerator(lambda: datetime(2024, 1, 11, tzinfo=WIB), node=100)

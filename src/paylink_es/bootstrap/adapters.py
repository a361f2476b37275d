"""The adapters a process runs with, built from the settings: channels and notifiers.

Adapters take plain values (URLs, keys, timeouts); only this module reads ``Settings`` for
them. Building loads every key and checks every setting, so a bad one stops a process at
start with an InvalidFieldError naming the setting — never a failure at a customer's first
payment or message.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from paylink_es.application.channel_port import ChannelPort
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.snap_client import SnapClient
from paylink_es.channels.snap_codes import SnapKeyInvalidError
from paylink_es.channels.snap_signing import RsaSigner, RsaVerifier, Verifier
from paylink_es.channels.snap_tokens import B2BCredentials
from paylink_es.channels.winpay import WinpayChannel
from paylink_es.channels.winpay_api import WinpayApi
from paylink_es.domain.clock import Clock, system_clock
from paylink_es.domain.errors import InvalidFieldError
from paylink_es.notify.channels import OUTBOX_FILE, Notifications
from paylink_es.notify.outbox import DevOutbox
from paylink_es.notify.port import MESSAGE_KINDS, DeliveryPolicy, MessageKind, Notifier
from paylink_es.notify.providers import SmsSender, WhatsAppSender
from paylink_es.notify.smtp import EmailSender
from paylink_es.settings import PUBLIC_SANDBOX_SECRET, Settings
from paylink_es.signing import installation_secret

# Meta's template names: lower-case letters, digits and underscores.
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")


def sandbox_secret(settings: Settings) -> str:
    """The sandbox's signing secret: the setting, or one made for this installation.

    Made once, kept in ``var/sandbox.key`` (readable by its owner only), so nobody else
    can sign a sandbox callback to this server. The public secret of earlier versions is
    refused in production (settings built from the environment refuse it already).
    """
    configured = settings.sandbox_secret
    if configured is not None and configured.get_secret_value():
        secret = configured.get_secret_value()
        if secret == PUBLIC_SANDBOX_SECRET and settings.environment == "production":
            raise InvalidFieldError("sandbox_secret", "is the public default; set your own")
        return secret
    return installation_secret(settings.data_dir, "sandbox.key")


def build_channels(settings: Settings, clock: Clock = system_clock) -> dict[str, ChannelPort]:
    """Every channel the settings configure, by name."""
    built: dict[str, ChannelPort] = {
        "sandbox": SandboxChannel(secret=sandbox_secret(settings), base_url=settings.public_url)
    }
    winpay = winpay_from_settings(settings, clock)
    if winpay is not None:
        built[winpay.name] = winpay
    return built


def _pem(value: str | None, path: Path | None, field: str) -> str:
    if value:
        return value
    if path is not None:
        try:
            return path.read_text()
        except OSError as error:
            raise InvalidFieldError(f"{field}_path", f"cannot read {path}: {error}") from None
    raise InvalidFieldError(field, "is required when PAYLINK_WINPAY_BASE_URL is set")


def winpay_from_settings(settings: Settings, clock: Clock = system_clock) -> WinpayChannel | None:
    """The Winpay channel the settings describe, or None when ``winpay_base_url`` is unset.

    ``winpay_signature_scheme`` ``rsa``: requests signed with our RSA key, notifications
    checked with Winpay's public key. ``hmac`` (generic SNAP): our RSA key signs the B2B
    token request, ``winpay_client_key``/``winpay_client_secret`` the rest; notifications
    are checked with the client secret (Winpay's public key is not needed). Keys load
    here, once: every missing or unreadable setting is an InvalidFieldError naming it (so
    ``serve`` stops at start, never at a customer's first payment); no key or secret
    appears in any message.
    """
    if not settings.winpay_base_url:
        return None
    for name in ("winpay_partner_id", "winpay_channel_id"):
        if not getattr(settings, name).strip():
            raise InvalidFieldError(name, "is required when PAYLINK_WINPAY_BASE_URL is set")
    secret = settings.winpay_private_key
    private = _pem(
        secret.get_secret_value() if secret is not None else None,
        settings.winpay_private_key_path,
        "winpay_private_key",
    )
    try:
        signer = RsaSigner.from_pem(private)
    except SnapKeyInvalidError as error:
        raise InvalidFieldError("winpay_private_key", str(error)) from None
    common: dict[str, Any] = {
        "base_url": settings.winpay_base_url,
        "partner_id": settings.winpay_partner_id.strip(),
        "channel_id": settings.winpay_channel_id.strip(),
        "clock": clock,
        "timeout_s": settings.winpay_timeout_s,
    }
    callback_key: Verifier
    if settings.winpay_signature_scheme == "hmac":
        b2b = _b2b_credentials(settings, signer)
        client = SnapClient(b2b=b2b, **common)
        callback_key = b2b.verifier()
    else:
        public = _pem(
            settings.winpay_public_key, settings.winpay_public_key_path, "winpay_public_key"
        )
        try:
            callback_key = RsaVerifier.from_pem(public)
        except SnapKeyInvalidError as error:
            raise InvalidFieldError("winpay_public_key", str(error)) from None
        client = SnapClient(signer=signer, **common)
    return WinpayChannel(
        WinpayApi(client, status_method=settings.winpay_status_method),
        callback_key=callback_key,
        va_ttl=timedelta(minutes=settings.winpay_va_ttl_minutes),
        clock=clock,
    )


def _b2b_credentials(settings: Settings, signer: RsaSigner) -> B2BCredentials:
    """The generic SNAP credentials, each missing one named."""
    needed = "is required when PAYLINK_WINPAY_SIGNATURE_SCHEME is hmac"
    client_key = settings.winpay_client_key.strip()
    if not client_key:
        raise InvalidFieldError("winpay_client_key", needed)
    if not client_key.isprintable() or not client_key.isascii():
        raise InvalidFieldError("winpay_client_key", "must be printable ASCII")
    secret = settings.winpay_client_secret
    client_secret = secret.get_secret_value() if secret is not None else ""
    if not client_secret:
        raise InvalidFieldError("winpay_client_secret", needed)
    return B2BCredentials(client_key, client_secret, signer)


def notifications_from_settings(
    settings: Settings,
    *,
    backoff_s: float = 0.5,
    ssl_context: ssl.SSLContext | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Notifications:
    """Build the notifiers from ``smtp_*``, ``sms_gateway_*`` and ``whatsapp_*`` settings.

    A channel without a provider goes to the dev outbox (``<data_dir>/outbox.jsonl``) in
    development; in production it is refused, so nobody believes a message went out.
    """
    fallback: Notifier | None = None
    if settings.environment == "development":
        fallback = DevOutbox(settings.data_dir / OUTBOX_FILE)
    policy = DeliveryPolicy(settings.notify_timeout_s, settings.notify_retries, backoff_s, sleep)
    email: Notifier | None = fallback
    if settings.smtp_host:
        email = EmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            mail_from=settings.mail_from,
            policy=policy,
            ssl_context=ssl_context,
        )
    sms: Notifier | None = fallback
    if settings.sms_gateway_url:
        sms = SmsSender(
            url=settings.sms_gateway_url, token=settings.sms_gateway_token, policy=policy
        )
    whatsapp: Notifier | None = fallback
    phone_number_id = whatsapp_phone_number_id(settings)
    if phone_number_id is not None:
        whatsapp = WhatsAppSender(
            url=WhatsAppSender.messages_url(settings.whatsapp_api_url, phone_number_id),
            token=settings.whatsapp_token,
            policy=policy,
            templates=whatsapp_templates(settings),
        )
    return Notifications(email=email, sms=sms, whatsapp=whatsapp)


def whatsapp_phone_number_id(settings: Settings) -> str | None:
    """The WhatsApp business number's id when WhatsApp is configured (checked), else None.

    The Cloud API wants a token with every message; ``whatsapp_api_url`` is its base URL
    (a URL that already ends in ``/messages`` names no phone number id of its own).
    """
    number = (settings.whatsapp_phone_number_id or "").strip()
    if settings.whatsapp_api_url.rstrip("/").endswith("/messages"):
        raise InvalidFieldError(
            "whatsapp_api_url",
            "is the Cloud API's base URL (e.g. https://graph.facebook.com/v21.0); give the"
            " phone number id in PAYLINK_WHATSAPP_PHONE_NUMBER_ID",
        )
    if not number:
        return None
    if not number.isdigit():
        raise InvalidFieldError("whatsapp_phone_number_id", "must be the number's id: digits")
    token = settings.whatsapp_token
    if token is None or not token.get_secret_value():
        raise InvalidFieldError(
            "whatsapp_token", "is required when PAYLINK_WHATSAPP_PHONE_NUMBER_ID is set"
        )
    return number


def whatsapp_templates(settings: Settings) -> dict[MessageKind, str]:
    """The approved template of each message kind, each name checked as Meta names them."""
    names: dict[MessageKind, str] = {}
    for kind in MESSAGE_KINDS:
        setting = f"whatsapp_template_{kind}"
        name = str(getattr(settings, setting)).strip()
        if not TEMPLATE_NAME.fullmatch(name):
            raise InvalidFieldError(
                setting, "must be a template name: lower-case letters, digits and _ (1-512)"
            )
        names[kind] = name
    return names

"""E-mail through a real SMTP server on 127.0.0.1 (aiosmtpd): via the API, and the sender alone."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import pytest
from pydantic import SecretStr

from paylink_es.notify import DeliveryFailedError, EmailSender, Message
from paylink_es.settings import Settings
from tests.integration.api.support import assert_problem
from tests.integration.notify.conftest import MakeSmtp, SmtpServer
from tests.integration.notify.support import (
    SMTP_PASSWORD,
    SMTP_USER,
    link_events,
    recording_policy,
    server_tls_context,
)
from tests.support.app import Api, MakeApi, free_port

LINK: dict[str, Any] = {
    "amount": 150000,
    "description": "Kaos polos hitam",
    "expires_at": "2026-02-01T23:59:00+07:00",
}
MAIL_FROM = "Toko Budi via Paylink <no-reply@paylink.example>"


def smtp_api(make: MakeApi, smtp: SmtpServer, **overrides: Any) -> Api:
    controller, _ = smtp
    return make(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_security="none",
        mail_from=MAIL_FROM,
        **overrides,
    )


def send(api: Api, link: dict[str, Any], **body: Any) -> Any:
    merchant = api.merchants[0]
    return api.client.post(
        f"/v1/links/{link['id']}/send",
        json={"channel": "email", "to": "budi@example.com", **body},
        headers=merchant.headers(),
    )


def test_an_email_in_indonesian_reaches_the_smtp_server_with_url_and_amount(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = smtp_api(make_send_api, smtp)
    merchant = api.merchant("Toko Budi")
    link = api.create_link(merchant, **LINK)

    response = send(api, link)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["object"] == "link_send"
    assert answer["channel"] == "email"
    assert answer["to"] == "b***@example.com"
    assert answer["delivered_to"] == "smtp"
    assert answer["share"]["url"] == link["url"]
    (received,) = smtp[1].received
    mail = received.mail
    assert received.recipients == ["budi@example.com"]
    assert mail["From"] == MAIL_FROM
    assert mail["To"] == "budi@example.com"
    assert mail["Subject"] == "Tagihan dari Toko Budi: Rp 150.000"
    assert mail["Message-ID"]
    assert mail["Date"]
    text, html = received.part("plain"), received.part("html")
    for part in (text, html):
        assert link["url"] in part
        assert "Rp 150.000" in part
        assert "IDR 150,000" not in part
        assert "1 Februari 2026 23.59 WIB" in part
    assert f'href="{link["url"]}"' in html
    assert "Bayar sekarang" in html
    details = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert details["counts"]["sent"] == 1
    ((name, event),) = link_events(api.paylink, link["id"])
    assert name == "Sent"
    assert (event["channel"], event["recipient"]) == ("email", "b***@example.com")


def test_an_email_in_english_says_it_in_english(
    make_sqlite_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = smtp_api(make_sqlite_send_api, smtp)
    link = api.create_link(api.merchant("Toko Budi"), **LINK)

    response = send(api, link, language="en")

    assert response.status_code == 200, response.text
    (received,) = smtp[1].received
    assert received.mail["Subject"] == "Payment request from Toko Budi: IDR 150,000"
    for part in (received.part("plain"), received.part("html")):
        assert link["url"] in part
        assert "IDR 150,000" in part
        assert "Rp 150.000" not in part
        assert "1 February 2026, 23:59 WIB" in part
    assert "Pay now" in received.part("html")
    assert response.json()["share"]["language"] == "en"


def test_a_rejecting_smtp_server_is_a_502_and_a_recorded_failure_only(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = smtp_api(make_send_api, smtp)
    merchant = api.merchant()
    link = api.create_link(merchant, **LINK)
    smtp[1].replies.extend(["554 5.7.1 Message rejected as spam"] * 3)

    response = send(api, link)

    problem = assert_problem(response, 502, "send-failed")
    assert "554" in problem["detail"]
    assert smtp[1].data_attempts == 1  # a 5xx answer is final: not tried again
    assert smtp[1].received == []
    ((name, event),) = link_events(api.paylink, link["id"])
    assert name == "SendFailed"
    assert event["channel"] == "email"
    assert event["recipient"] == "b***@example.com"
    assert event["reason"].startswith("smtp: refused: 554 5.7.1 Message rejected as spam")
    counts = api.client.get(f"/v1/links/{link['id']}", headers=merchant.headers()).json()
    assert counts["counts"]["sent"] == 0


def test_a_temporary_smtp_refusal_is_retried_and_then_delivered(
    make_sqlite_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = smtp_api(make_sqlite_send_api, smtp)
    link = api.create_link(api.merchant(), **LINK)
    smtp[1].replies.append("451 4.3.0 Try again later")

    response = send(api, link)

    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 2
    assert smtp[1].data_attempts == 2
    assert len(smtp[1].received) == 1
    assert [name for name, _ in link_events(api.paylink, link["id"])] == ["Sent"]


def sender(port: int, **overrides: Any) -> tuple[EmailSender, list[float]]:
    policy, waits = recording_policy()
    arguments: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "user": None,
        "password": None,
        "mail_from": MAIL_FROM,
        "policy": policy,
        **overrides,
    }
    return EmailSender(**arguments), waits


def signed_in_sender(
    port: int, cert: str, security: str, password: str = SMTP_PASSWORD
) -> tuple[EmailSender, list[float]]:
    """A sender that logs in as ``SMTP_USER`` over TLS (``security``), trusting ``cert``."""
    return sender(
        port,
        security=security,
        user=SMTP_USER,
        password=SecretStr(password),
        ssl_context=ssl.create_default_context(cafile=cert),
    )


MESSAGE = Message("email", "budi@example.com", "Bayar di sini", subject="Tagihan", html="<p>x</p>")


def test_starttls_then_login_then_the_message(
    make_smtp: MakeSmtp, tls_files: tuple[str, str]
) -> None:
    cert, key = tls_files
    controller, mailbox = make_smtp(
        auth=True, tls_context=server_tls_context(cert, key), require_starttls=True
    )
    email, _ = signed_in_sender(controller.port, cert, "starttls")

    delivery = email.deliver(MESSAGE)

    assert delivery.delivered_to == "smtp"
    assert delivery.attempts == 1
    assert mailbox.logins == [(SMTP_USER, SMTP_PASSWORD)]
    (received,) = mailbox.received
    assert received.tls
    assert received.login == SMTP_USER
    assert delivery.provider_id == received.mail["Message-ID"]


def test_implicit_tls_on_connect(make_smtp: MakeSmtp, tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    controller, mailbox = make_smtp(
        auth=True, ssl_context=server_tls_context(cert, key), auth_require_tls=False
    )
    email, _ = signed_in_sender(controller.port, cert, "tls")

    email.deliver(MESSAGE)

    (received,) = mailbox.received
    assert received.tls
    assert received.login == SMTP_USER


def test_a_server_without_starttls_gets_nothing_in_plain_text(make_smtp: MakeSmtp) -> None:
    controller, mailbox = make_smtp()
    email, waits = sender(controller.port, security="starttls")

    with pytest.raises(DeliveryFailedError) as raised:
        email.deliver(MESSAGE)

    assert "STARTTLS" in raised.value.reason
    assert raised.value.attempts == 1
    assert waits == []
    assert mailbox.data_attempts == 0


def test_a_certificate_nobody_vouches_for_is_refused_at_once(
    make_smtp: MakeSmtp, tls_files: tuple[str, str]
) -> None:
    cert, key = tls_files
    controller, mailbox = make_smtp(tls_context=server_tls_context(cert, key))
    email, waits = sender(controller.port, security="starttls")  # the system's CAs only

    with pytest.raises(DeliveryFailedError) as raised:
        email.deliver(MESSAGE)

    assert "TLS failed" in raised.value.reason
    assert (raised.value.attempts, waits) == (1, [])
    assert mailbox.data_attempts == 0


def test_a_wrong_password_fails_for_good_and_is_never_logged_or_stored(
    make_smtp: MakeSmtp, tls_files: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cert, key = tls_files
    controller, mailbox = make_smtp(
        auth=True, tls_context=server_tls_context(cert, key), require_starttls=True
    )
    wrong = "wrong-" + SMTP_PASSWORD
    email, waits = signed_in_sender(controller.port, cert, "starttls", wrong)

    with pytest.raises(DeliveryFailedError) as raised:
        email.deliver(MESSAGE)

    assert "535" in raised.value.reason
    assert (raised.value.attempts, waits) == (1, [])
    assert set(mailbox.logins) == {(SMTP_USER, wrong)}  # smtplib tries PLAIN, then LOGIN
    assert mailbox.received == []
    assert wrong not in raised.value.reason
    assert wrong not in repr(email)
    assert caplog.records, "the failure was logged"
    assert all(wrong not in record.getMessage() for record in caplog.records)


def test_an_unreachable_server_is_tried_again_then_given_up() -> None:
    policy, waits = recording_policy(tries=3, backoff_s=0.25)
    email, _ = sender(free_port(), policy=policy)  # nobody listens there

    with pytest.raises(DeliveryFailedError) as raised:
        email.deliver(MESSAGE)

    assert raised.value.attempts == 3
    assert waits == [0.25, 0.5]
    assert raised.value.reason.startswith("smtp: cannot reach the server")
    assert raised.value.reason.endswith("(after 3 attempts)")


def test_the_sender_is_built_from_the_settings(smtp: SmtpServer, tmp_path: Any) -> None:
    from paylink_es.bootstrap.adapters import notifications_from_settings

    settings = Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp[0].port,
        smtp_security="none",
        mail_from=MAIL_FROM,
        notify_retries=5,
        notify_timeout_s=2.5,
    )

    email = notifications_from_settings(settings).for_channel("email")

    assert isinstance(email, EmailSender)
    assert (email.host, email.port, email.security) == ("127.0.0.1", smtp[0].port, "none")
    assert (email.policy.tries, email.policy.timeout_s, email.mail_from) == (5, 2.5, MAIL_FROM)
    email.deliver(MESSAGE)
    assert smtp[1].received[0].mail["From"] == MAIL_FROM

"""The outside world of the send tests, for real, on 127.0.0.1.

An aiosmtpd SMTP server whose DATA answers can be scripted (``Mailbox``), and an
``http.server`` that plays an SMS gateway or the WhatsApp Cloud API (``Provider``).
``Messaging`` is the messages worker's world: the application, its read models, the
messenger on those servers, and one tick of the worker. Imported as
``tests.integration.notify.support``.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import ThreadingHTTPServer
from typing import Any
from uuid import UUID

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from paylink_es.application.services import Paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.notify import Messenger
from paylink_es.notify.port import DeliveryPolicy
from projections.runner import ReadModels
from tests.support.loopback import LoopbackServer, QuietHandler
from tests.support.read_models import catch_up
from tests.support.whatsapp_counterpart import CloudApi
from workers.messages import send_due

SMTP_USER = "mailer@toko.example"
SMTP_PASSWORD = "s3cret-smtp-password"


@dataclass
class Received:
    """A message the SMTP server accepted, and how the client reached it."""

    mail: EmailMessage
    recipients: list[str]
    tls: bool
    login: str | None

    def part(self, subtype: str) -> str:
        """The text of the ``text/<subtype>`` part."""
        body = self.mail.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        assert body.get_content_type() == f"text/{subtype}"
        content: str = body.get_content()
        return content


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; DATA answers come from ``replies``."""

    replies: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    data_attempts: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Answer the next scripted reply (250 when none is left)."""
        self.data_attempts += 1
        reply = self.replies.popleft() if self.replies else "250 Message accepted"
        if reply.startswith("250"):
            content = envelope.content
            assert isinstance(content, bytes)
            mail = message_from_bytes(content, policy=policy.default)
            assert isinstance(mail, EmailMessage)
            login = session.auth_data.login.decode() if session.auth_data else None
            self.received.append(
                Received(
                    mail=mail,
                    recipients=list(envelope.rcpt_tos),
                    tls=_over_tls(server),
                    login=login,
                )
            )
        return reply

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """Accept only SMTP_USER / SMTP_PASSWORD; remember every try."""
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = (login, password) == (SMTP_USER, SMTP_PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _over_tls(server: SMTP) -> bool:
    """Whether the conversation is encrypted (STARTTLS or implicit TLS)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class Reply:
    """How the provider answers one request."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"id": "msg-1"})
    delay_s: float = 0.0


@dataclass
class Seen:
    """A request the provider received."""

    path: str
    headers: dict[str, str]
    body: Any


class _HangUpServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has hung up: writing to it fails, as expected."""


class Provider(LoopbackServer):
    """An HTTP provider on 127.0.0.1: records each POST and answers from ``replies``."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        provider = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.body()
                with provider._lock:
                    provider.seen.append(
                        Seen(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw) if raw else None,
                        )
                    )
                    reply = provider.replies.popleft() if provider.replies else Reply()
                time.sleep(reply.delay_s)
                self.reply(reply.status, json.dumps(reply.body).encode())

        super().__init__(Handler, server_class=_HangUpServer)


def recording_policy(
    timeout_s: float = 5.0, tries: int = 3, backoff_s: float = 0.5
) -> tuple[DeliveryPolicy, list[float]]:
    """A sender's policy that notes its waits instead of sleeping, and the list of them."""
    waits: list[float] = []
    return DeliveryPolicy(timeout_s, tries, backoff_s, sleep=waits.append), waits


def server_tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The SMTP server's TLS context with a self-signed certificate for 127.0.0.1."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def link_events(paylink: Paylink, link_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The link's stored events after Created: (name, attributes), oldest first."""
    return [
        (type(event).__name__, vars(event))
        for event in paylink.app.events.get(UUID(link_id))
        if type(event).__name__ != "Created"
    ]


def link_event_names(paylink: Paylink, link_id: str) -> list[str]:
    """The names of the link's events after Created."""
    return [name for name, _ in link_events(paylink, link_id)]


BASE_URL = "https://pay.toko.example"
MAX_AGE_S = 86400.0


@dataclass
class Messaging:
    """The application on the test's store, its read models, and a messenger that sends
    through the loopback SMTP server and the WhatsApp Cloud API counterpart."""

    paylink: Paylink
    views: ReadModels
    messenger: Messenger
    clock: FakeClock
    mailbox: Mailbox
    cloud: CloudApi

    def tick(self, max_age_s: float = MAX_AGE_S) -> int:
        """One round of the messages worker, once the read models caught up."""
        catch_up(self.paylink, self.views)
        return send_due(self.messenger, self.views, max_age_s)

    def subjects(self) -> list[str]:
        """The subjects of every e-mail received so far, in order."""
        return [str(received.mail["Subject"]).strip() for received in self.mailbox.received]

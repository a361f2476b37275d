"""E-mail through an SMTP server: STARTTLS, implicit TLS or plain; login when a user is set."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal

from pydantic import SecretStr

from paylink_es.notify.port import (
    Delivery,
    DeliveryPolicy,
    Message,
    PermanentDeliveryError,
    TransientDeliveryError,
)

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class EmailSender:
    """The e-mail notifier: one SMTP conversation per attempt, retried on 4xx and timeouts."""

    name = "smtp"

    host: str
    port: int
    security: Security
    user: str | None
    password: SecretStr | None
    mail_from: str
    policy: DeliveryPolicy
    ssl_context: ssl.SSLContext | None = None

    def __repr__(self) -> str:  # never the password
        return f"EmailSender({self.security}://{self.host}:{self.port}, user={self.user!r})"

    def deliver(self, message: Message) -> Delivery:
        """Send ``message`` as a text + HTML e-mail; the provider id is its Message-ID."""
        mail = self.compose(message)
        return self.policy.deliver(self.name, lambda: self._send_once(mail))

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail: From the settings, a plain-text part and, when given, an HTML one."""
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(self.mail_from)[1].rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(domain=domain)
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        timeout_s = self.policy.timeout_s
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=timeout_s, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=timeout_s)

    def _send_once(self, mail: EmailMessage) -> str | None:
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    # Never fall back to plain text when STARTTLS was asked for.
                    smtp.starttls(context=self._context())
                if self.user:
                    password = self.password
                    smtp.login(self.user, password.get_secret_value() if password else "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise _by_code(code, text, "recipient refused") from None
        except smtplib.SMTPResponseException as error:
            raise _by_code(error.smtp_code, error.smtp_error, "refused") from None
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentDeliveryError(f"smtp: {error}") from None
        except smtplib.SMTPServerDisconnected:
            raise TransientDeliveryError("smtp: the server closed the connection") from None
        except ssl.SSLError as error:
            raise PermanentDeliveryError(f"smtp: TLS failed ({error.reason})") from None
        except TimeoutError:
            raise TransientDeliveryError(
                f"smtp: no answer within {self.policy.timeout_s:g} s"
            ) from None
        except OSError as error:  # refused, unreachable, reset; SMTPException is one too
            detail = error.strerror or type(error).__name__
            raise TransientDeliveryError(f"smtp: cannot reach the server ({detail})") from None
        message_id = mail["Message-ID"]
        return str(message_id) if message_id else None


def _by_code(
    code: int, text: bytes | str, what: str
) -> TransientDeliveryError | PermanentDeliveryError:
    """4xx replies are worth another try; 5xx replies are final."""
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reason = f"smtp: {what}: {code} {said}".rstrip()
    if 400 <= code < 500:
        return TransientDeliveryError(reason)
    return PermanentDeliveryError(reason)

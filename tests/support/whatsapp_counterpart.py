"""A local WhatsApp Cloud API counterpart on 127.0.0.1, built from Meta's public documents
of the messages endpoint, independently of ``paylink_es.notify.providers``.

``POST /{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>`` and a
JSON body:

- a **template** message ``{"messaging_product": "whatsapp", "to": "<digits>", "type":
  "template", "template": {"name", "language": {"code"}, "components": [{"type": "body",
  "parameters": [{"type": "text", "text"}, …]}]}}`` is checked as Meta checks it against
  the business's approved templates (``approved``: (name, language code) → how many body
  parameters): an unknown name, or one not approved in that language, is HTTP 404 error
  ``132001`` "Template name does not exist in the translation"; another number of
  parameters is HTTP 400 error ``132000``; a parameter that is empty or has a line break,
  a tab or more than four spaces in a row is HTTP 400 error ``132018``;
- a **text** message is free-form: accepted only within 24 hours of the customer's last
  message to the business (``customer_wrote``); otherwise HTTP 400 error ``131047``
  "Re-engagement message" (the real API accepts the request and reports 131047 later, in a
  status webhook; here the refusal comes at once, so a test sees it);
- anything else: a token other than ``token`` is HTTP 401 error ``190``; another phone
  number id, a ``messaging_product`` other than ``whatsapp``, a ``to`` that is not 8-15
  digits or a body that is not the shapes above is HTTP 400 error ``100``.

Success is HTTP 200 ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid.…", "message_status": "accepted"}]}``. Errors have the Graph
API's shape: ``{"error": {"message": "(#<code>) …", "type": "OAuthException", "code",
"error_data": {"messaging_product": "whatsapp", "details"}, "fbtrace_id"}}``.

Records: ``sent`` (each accepted message: to, type, template name, language, parameters,
text) and ``refused`` (each refusal's code and body). ``python -m
tests.support.whatsapp_counterpart`` serves it on its own (port 8931) and prints what it
accepts and refuses.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from tests.support.loopback import LoopbackServer, QuietHandler

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAGm0PX4ZCpsBA-counterpart-token"
WINDOW = timedelta(hours=24)
# The templates the README asks a business to have approved, in both languages.
PAYLINK_TEMPLATES: dict[tuple[str, str], int] = {
    (name, language): 4
    for name in ("paylink_payment_request", "paylink_payment_reminder", "paylink_payment_receipt")
    for language in ("id", "en")
}
_TO = re.compile(r"[0-9]{8,15}")
_BAD_PARAMETER = re.compile(r"[\n\t]| {5,}")


@dataclass(frozen=True)
class Accepted:
    """A message the counterpart accepted."""

    id: str
    to: str
    type: str
    template: str | None = None
    language: str | None = None
    parameters: tuple[str, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A request the counterpart refused: the HTTP status and the error's code."""

    status: int
    code: int
    details: str


class CloudApiError(Exception):
    """A refusal, as the Graph API words it."""

    def __init__(self, status: int, code: int, message: str, details: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        """The Graph API's error document."""
        return {
            "error": {
                "message": f"(#{self.code}) {self.message}",
                "type": "OAuthException",
                "code": self.code,
                "error_data": {"messaging_product": "whatsapp", "details": self.details},
                "fbtrace_id": secrets.token_urlsafe(12),
            }
        }


def _invalid(details: str) -> CloudApiError:
    return CloudApiError(400, 100, "Invalid parameter", details)


@dataclass
class CloudApi:
    """The counterpart's state: what is approved, who wrote when, what was sent."""

    approved: dict[tuple[str, str], int] = field(default_factory=lambda: dict(PAYLINK_TEMPLATES))
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sent: list[Accepted] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    last_customer_message: dict[str, datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def customer_wrote(self, number: str) -> None:
        """The customer at ``number`` (digits) sent the business a message now."""
        with self.lock:
            self.last_customer_message[number] = self.clock()

    def answer(self, path: str, authorization: str | None, raw: bytes) -> tuple[int, Any]:
        """The status and JSON body the Cloud API answers this request with."""
        try:
            accepted = self._accept(path, authorization, raw)
        except CloudApiError as error:
            with self.lock:
                self.refused.append(Refusal(error.status, error.code, error.details))
            return error.status, error.body()
        with self.lock:
            self.sent.append(accepted)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": accepted.to, "wa_id": accepted.to}],
            "messages": [{"id": accepted.id, "message_status": "accepted"}],
        }

    def _accept(self, path: str, authorization: str | None, raw: bytes) -> Accepted:
        if authorization != f"Bearer {TOKEN}":
            raise CloudApiError(
                401, 190, "Invalid OAuth access token - Cannot parse access token", "bad token"
            )
        if path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            raise _invalid(f"Unsupported post request: {path}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise _invalid("the body is not JSON") from None
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            raise _invalid("messaging_product must be whatsapp")
        to = body.get("to")
        if not isinstance(to, str) or not _TO.fullmatch(to.removeprefix("+")):
            raise _invalid("to must be a phone number: 8-15 digits")
        number = to.removeprefix("+")
        message_id = "wamid." + secrets.token_urlsafe(24)
        kind = body.get("type")
        if kind == "text":
            return Accepted(message_id, number, "text", text=self._free_text(number, body))
        if kind != "template":
            raise _invalid(f"type {kind!r} is not a message type here")
        name, language, parameters = self._template(body.get("template"))
        return Accepted(message_id, number, "template", name, language, parameters)

    def _free_text(self, number: str, body: dict[str, Any]) -> str:
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("body"), str):
            raise _invalid("text.body is required")
        with self.lock:
            wrote = self.last_customer_message.get(number)
        if wrote is None or self.clock() - wrote > WINDOW:
            raise CloudApiError(
                400,
                131047,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the"
                " customer last replied to this number.",
            )
        return str(text["body"])

    def _template(self, template: object) -> tuple[str, str, tuple[str, ...]]:
        if not isinstance(template, dict):
            raise _invalid("template is required")
        name = template.get("name")
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(name, str) or not isinstance(code, str):
            raise _invalid("template.name and template.language.code are required")
        expected = self.approved.get((name, code))
        if expected is None:
            raise CloudApiError(
                404,
                132001,
                "Template name does not exist in the translation",
                f"template name ({name}) does not exist in {code}",
            )
        parameters = _body_parameters(template.get("components", []))
        if len(parameters) != expected:
            raise CloudApiError(
                400,
                132000,
                "Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({len(parameters)}) does not match the"
                f" expected number of params ({expected})",
            )
        for text in parameters:
            if not text.strip() or _BAD_PARAMETER.search(text):
                raise CloudApiError(
                    400,
                    132018,
                    "There was an issue with the parameters in your template.",
                    "Param text cannot be empty, or have new-line/tab characters or more than"
                    " 4 consecutive spaces",
                )
        return name, code, parameters


def _body_parameters(components: object) -> tuple[str, ...]:
    """The text parameters of the template's body component (none without one)."""
    if not isinstance(components, list):
        raise _invalid("template.components must be a list")
    found: list[str] = []
    for component in components:
        if not isinstance(component, dict) or component.get("type") != "body":
            continue
        for parameter in component.get("parameters", []):
            if not isinstance(parameter, dict) or parameter.get("type") != "text":
                raise _invalid("a body parameter must be {type: text, text}")
            text = parameter.get("text")
            if not isinstance(text, str):
                raise _invalid("a text parameter needs its text")
            found.append(text)
    return tuple(found)


class CloudApiServer(LoopbackServer):
    """The counterpart served over HTTP on 127.0.0.1 (a free port unless given), in a thread."""

    def __init__(self, api: CloudApi | None = None, port: int = 0) -> None:
        self.api = state = api or CloudApi()

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                status, body = state.answer(
                    self.path, self.headers.get("Authorization"), self.body()
                )
                self.reply(status, json.dumps(body).encode())

        super().__init__(Handler, port=port)

    @property
    def api_url(self) -> str:
        """The base URL a sender is configured with (``PAYLINK_WHATSAPP_API_URL``)."""
        return f"{self.base_url}/{VERSION}"

    def settings(self) -> dict[str, Any]:
        """Settings that send WhatsApp messages here (overrides of ``Settings``)."""
        return {
            "whatsapp_api_url": self.api_url,
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_token": SecretStr(TOKEN),
        }


def main() -> None:
    """``python -m tests.support.whatsapp_counterpart [--port N]``: serve the counterpart
    (the templates of ``PAYLINK_TEMPLATES`` approved), print the settings that send to it,
    and print each message it accepts or refuses, until interrupted."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description="A local WhatsApp Cloud API counterpart")
    parser.add_argument("--port", type=int, default=8931)
    api = CloudApi()
    server = CloudApiServer(api, parser.parse_args().port)
    server.start()
    print(f"PAYLINK_WHATSAPP_API_URL={server.api_url}")
    print(f"PAYLINK_WHATSAPP_PHONE_NUMBER_ID={PHONE_NUMBER_ID}")
    print(f"PAYLINK_WHATSAPP_TOKEN={TOKEN}", flush=True)
    shown = (0, 0)
    try:
        while True:
            time.sleep(0.2)
            with api.lock:
                sent, refused = list(api.sent), list(api.refused)
            for accepted in sent[shown[0] :]:
                print(f"accepted {accepted.template} ({accepted.language}) to +{accepted.to}:")
                for number, text in enumerate(accepted.parameters, start=1):
                    print(f"  {{{{{number}}}}} {text}")
            for refusal in refused[shown[1] :]:
                print(f"refused: HTTP {refusal.status}, error {refusal.code}: {refusal.details}")
            sys.stdout.flush()
            shown = (len(sent), len(refused))
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

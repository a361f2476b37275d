"""SMS and WhatsApp through HTTP providers: a JSON POST with a Bearer token, retried.

WhatsApp goes through the Cloud API as template messages: a business may start a
conversation only with a template Meta approved, and may write free-form text only within
24 hours of the customer's last message to it. The platform never hears the customer's
messages (it subscribes to no WhatsApp webhook), so it cannot know a window is open: every
WhatsApp message it sends is a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from paylink_es import __version__
from paylink_es.notify.port import (
    Delivery,
    DeliveryPolicy,
    Message,
    MessageKind,
    PermanentDeliveryError,
    TransientDeliveryError,
    safe_reason,
)

# Answers worth another try; any other status of 300 or more is final.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Cloud API error codes that say "later" (rate limits), whatever the HTTP status.
WHATSAPP_RETRYABLE_CODES = frozenset({4, 80007, 130429, 131056})


class JsonProvider:
    """POSTs one JSON document per message to a provider URL, with timeouts and retries."""

    name = "http-provider"

    def __init__(self, *, url: str, token: SecretStr | None, policy: DeliveryPolicy) -> None:
        self.url = url
        self._token = token
        self.policy = policy

    def __repr__(self) -> str:  # never the token, nor a URL that may carry a key
        policy = self.policy
        return f"{type(self).__name__}(timeout_s={policy.timeout_s}, tries={policy.tries})"

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON document the provider expects for ``message``."""
        raise NotImplementedError

    def provider_id(self, answer: Any) -> str | None:
        """The provider's id for the message, from its JSON answer (None if absent)."""
        return None

    def refusal(self, answer: Any) -> tuple[str, bool] | None:
        """What the provider's JSON answer to a refused message says, and whether it is
        worth another try (None: it says nothing we read)."""
        return None

    def deliver(self, message: Message) -> Delivery:
        """POST the message, retrying timeouts, connection failures, 429 and 5xx."""
        body = self.payload(message)
        headers = {"User-Agent": f"paylink-es/{__version__}", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
            return self.policy.deliver(self.name, lambda: self._post_once(client, body, headers))

    def _post_once(
        self, client: httpx.Client, body: dict[str, Any], headers: dict[str, str]
    ) -> str | None:
        # Reasons name the provider, the status and the error its answer names, never
        # the URL: it may carry keys.
        try:
            response = client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientDeliveryError(
                f"{self.name}: no answer within {self.policy.timeout_s:g} s"
            ) from None
        except httpx.TransportError as error:
            raise TransientDeliveryError(
                f"{self.name}: cannot reach the provider ({type(error).__name__})"
            ) from None
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if status >= 300:
            said = self.refusal(answer)
            reason = f"{self.name}: HTTP {status}" + (f": {said[0]}" if said else "")
            if status in RETRYABLE_STATUS or (said is not None and said[1]):
                raise TransientDeliveryError(reason)
            raise PermanentDeliveryError(reason)
        return self.provider_id(answer)


class SmsSender(JsonProvider):
    """A generic SMS gateway: ``{"to": "+62…", "message": "…"}``."""

    name = "sms-gateway"

    def payload(self, message: Message) -> dict[str, Any]:
        """E.164 with the plus, and the text."""
        return {"to": message.to, "message": message.text}

    def provider_id(self, answer: Any) -> str | None:
        """``id`` or ``message_id`` of the gateway's answer, when it gives one."""
        if isinstance(answer, dict):
            found = answer.get("id") or answer.get("message_id")
            return str(found) if found is not None else None
        return None


class WhatsAppSender(JsonProvider):
    """The WhatsApp Cloud API: template messages to ``url`` (:meth:`messages_url`).

    ``templates`` names the approved template of each message kind; a message's template
    says which kind it is, its language code and its body parameters.
    """

    name = "whatsapp"

    def __init__(
        self,
        *,
        url: str,
        token: SecretStr | None,
        policy: DeliveryPolicy,
        templates: Mapping[MessageKind, str],
    ) -> None:
        super().__init__(url=url, token=token, policy=policy)
        self.templates = dict(templates)

    @staticmethod
    def messages_url(api_url: str, phone_number_id: str) -> str:
        """Where the Cloud API takes a business number's messages."""
        return f"{api_url.rstrip('/')}/{phone_number_id}/messages"

    def payload(self, message: Message) -> dict[str, Any]:
        """The Cloud API's template message, to the number without its plus."""
        template = message.template
        if template is None:
            msg = "a WhatsApp message a business starts must be a template"
            raise ValueError(msg)
        return {
            "messaging_product": "whatsapp",
            "to": message.to.removeprefix("+"),
            "type": "template",
            "template": {
                "name": self.templates[template.kind],
                "language": {"code": template.language},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": text} for text in template.parameters
                        ],
                    }
                ],
            },
        }

    def provider_id(self, answer: Any) -> str | None:
        """``messages[0].id`` (``wamid.…``) of the Cloud API's answer."""
        if isinstance(answer, dict):
            messages = answer.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                found = messages[0].get("id")
                return str(found) if found is not None else None
        return None

    def refusal(self, answer: Any) -> tuple[str, bool] | None:
        """The Cloud API's ``error``: its code, message and details (``error 132001:
        (#132001) Template name does not exist in the translation``); rate limits are
        worth another try."""
        error = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(error, dict):
            return None
        code = error.get("code")
        said = f"error {code}: {error.get('message', '')}".strip()
        data = error.get("error_data")
        if isinstance(data, dict) and data.get("details"):
            said += f" ({data['details']})"
        return safe_reason(said), code in WHATSAPP_RETRYABLE_CODES

"""SMS and WhatsApp through HTTP providers: a JSON POST with a Bearer token, retried."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from paylink_es import __version__
from paylink_es.notify.port import (
    Delivery,
    DeliveryPolicy,
    Message,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# Answers worth another try; any other status of 300 or more is final.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


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
        # Reasons name the provider and the status only: URLs may carry keys.
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
        if status in RETRYABLE_STATUS:
            raise TransientDeliveryError(f"{self.name}: HTTP {status}")
        if status >= 300:
            raise PermanentDeliveryError(f"{self.name}: HTTP {status}")
        try:
            answer = response.json()
        except ValueError:
            return None
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
    """The WhatsApp Cloud API's text message (``…/<phone-number-id>/messages``)."""

    name = "whatsapp"

    def payload(self, message: Message) -> dict[str, Any]:
        """The Cloud API wants the number without the plus."""
        return {
            "messaging_product": "whatsapp",
            "to": message.to.removeprefix("+"),
            "type": "text",
            "text": {"body": message.text},
        }

    def provider_id(self, answer: Any) -> str | None:
        """``messages[0].id`` (``wamid.…``) of the Cloud API's answer."""
        if isinstance(answer, dict):
            messages = answer.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                found = messages[0].get("id")
                return str(found) if found is not None else None
        return None

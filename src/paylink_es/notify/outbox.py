"""The development outbox: what would have been sent, as JSON lines in a file and the log."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from paylink_es.domain.clock import Clock, system_clock
from paylink_es.domain.link import mask_recipient
from paylink_es.notify.port import Delivery, Message

log = logging.getLogger("paylink.notify")


class DevOutbox:
    """Stands in for a channel that has no provider configured; nothing leaves the machine."""

    name = "dev-outbox"

    def __init__(self, path: Path, clock: Clock = system_clock) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()

    def deliver(self, message: Message) -> Delivery:
        """Append the message to the outbox file (one JSON object a line) and log it."""
        record: dict[str, object] = {
            "at": self.clock().isoformat(),
            "channel": message.channel,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        }
        if message.template is not None:
            record["template"] = {
                "kind": message.template.kind,
                "language": message.template.language,
                "parameters": list(message.template.parameters),
            }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as outbox:
                outbox.write(line)
        log.info(
            "dev outbox: no %s provider is configured, so this %s to %s was NOT sent;"
            " written to %s:\n%s",
            message.channel,
            message.channel,
            mask_recipient(message.to),
            self.path,
            message.text,
        )
        return Delivery(self.name, 1, None)

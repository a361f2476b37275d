"""A loopback webhook endpoint that answers 2xx and keeps what it was sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.support.loopback import LoopbackServer, QuietHandler


@dataclass
class Deliveries:
    """Every POST the endpoint got: its path, ``Paylink-Event-Id`` and ``-Delivery-Id``."""

    url: str = ""
    received: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, path: str | None = None) -> list[str]:
        """The event ids posted (to ``path`` only, if given), in the order they came."""
        with self.lock:
            return [event for where, event, _ in self.received if path in (None, where)]


@contextmanager
def webhook_receiver() -> Iterator[Deliveries]:
    """An endpoint on 127.0.0.1 (``url``, any path) for the block."""
    got = Deliveries()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.body()
            event, delivery = self.headers["Paylink-Event-Id"], self.headers["Paylink-Delivery-Id"]
            with got.lock:
                got.received.append((self.path, event, delivery))
            self.reply(204)

    with LoopbackServer(Handler) as server:
        got.url = server.base_url
        yield got

"""Plain HTTP servers of the tests on 127.0.0.1, each serving from a thread of its own.

``LoopbackServer`` serves a request handler on a free port: ``start``/``stop``, or a
``with`` block. The merchants' sites and webhook receivers, the SMS and WhatsApp
providers and Winpay's counterpart are all served this way; their handlers are
``QuietHandler``s, which log nothing (the tests read what they record) and answer with
``reply``. The app itself is served by uvicorn (``tests.support.app.live_server``).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (the test reads what it records instead)."""

    def log_message(self, *_: Any) -> None:
        pass

    def body(self) -> bytes:
        """The request's body (``Content-Length`` bytes; none without the header)."""
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        """Answer ``status`` with ``body`` (of ``content_type`` when there is one)."""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer:
    """A ``ThreadingHTTPServer`` for ``handler`` on 127.0.0.1 (a free port unless ``port``
    says which), in a thread.

    A short ``poll_interval_s`` makes stopping quick (after every test).
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
        poll_interval_s: float = 0.05,
        port: int = 0,
    ) -> None:
        self.server = server_class(("127.0.0.1", port), handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": poll_interval_s},
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        port: int = self.server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Serve in the thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

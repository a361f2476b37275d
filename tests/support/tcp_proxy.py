"""A loopback TCP proxy a test can cut: the database goes away without stopping the server.

``TcpProxy(host, port)`` listens on 127.0.0.1 (a free port) and forwards every
connection to ``host:port``. Then:

- :meth:`down` — an outage: every open connection is closed and new ones are refused
  (the listening socket is closed);
- :meth:`blackhole` — a network that swallows everything: open connections stop
  forwarding (bytes sent get no answer) and new ones are accepted and never answered;
- :meth:`up` — back: the port listens again, held connections are closed, frozen ones
  forward again.

Only loopback addresses are used. Threads are daemons and :meth:`close` ends them all.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from types import TracebackType
from typing import Literal, Self

Mode = Literal["up", "down", "blackhole"]
POLL_S = 0.05


class _Pair:
    """A client's connection and ours to the target."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self._lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; switch it with up/down/blackhole."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "up"
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._held: list[socket.socket] = []
        self._closed = False
        self.accepted = 0  # connections accepted so far (held ones included)
        self._listener: socket.socket | None = None
        self.port = self._listen(0)

    # -- switching ------------------------------------------------------------------------

    def up(self) -> None:
        """Forward again: listen if down, close held connections, unfreeze open ones."""
        with self._lock:
            self.mode = "up"
            held, self._held = self._held, []
        for sock in held:
            sock.close()
        if self._listener is None:
            self._listen(self.port)

    def down(self) -> None:
        """Close every connection and refuse new ones."""
        with self._lock:
            self.mode = "down"
            pairs, self._pairs = set(self._pairs), set()
            held, self._held = self._held, []
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for pair in pairs:
            pair.close()
        for sock in held:
            sock.close()

    def blackhole(self) -> None:
        """Swallow everything: open connections freeze, new ones are never answered."""
        with self._lock:
            self.mode = "blackhole"
        if self._listener is None:
            self._listen(self.port)

    def open_connections(self) -> int:
        """Connections forwarded now."""
        with self._lock:
            return len(self._pairs)

    # -- plumbing -------------------------------------------------------------------------

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        bound: int = listener.getsockname()[1]
        return bound

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed:
            try:
                ready, _, _ = select.select([listener], [], [], POLL_S)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):  # closed by down() or close()
                return
            self.accepted += 1
            with self._lock:
                mode = self.mode
                if mode == "blackhole":
                    self._held.append(client)
                    continue
            if mode == "down":  # pragma: no cover - the listener is closed then
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, server)
            with self._lock:
                self._pairs.add(pair)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _frozen(self) -> bool:
        return self.mode == "blackhole"

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not pair.closed and not self._closed:
                if self._frozen():
                    time.sleep(POLL_S)  # nothing moves: the bytes wait unanswered
                    continue
                ready, _, _ = select.select([source], [], [], POLL_S)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                while self._frozen() and not pair.closed and not self._closed:
                    time.sleep(POLL_S)  # what arrived once the hole opened waits in it
                sink.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            pair.close()
            with self._lock:
                self._pairs.discard(pair)

    def close(self) -> None:
        """Stop everything."""
        self.down()
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

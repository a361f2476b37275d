"""A doorbell for the SQLite store: writers ring it after each commit, the projections wait on it.

SQLite has no notifications, so the live catch-up used to ask the log every 5 ms: ~7% of
a core on an idle server. Now every commit of the store (``RowReadingRecorder.insert_events``
in any process) sends an empty datagram to a Unix socket named after the store, and the
catch-up sleeps on that socket. Events reach the views as soon as they are committed,
and an idle server asks nothing.

Nothing depends on the bell being heard: a ring nobody listens for is dropped, a full
socket drops rings that add nothing (one pending datagram already wakes the listener),
and the listener still looks at the log every :data:`FALLBACK_S` in case a writer could
not ring (a store written by another program). The socket is in Linux's abstract
namespace (no file to clean up, no path length limit); elsewhere there is no bell and
the catch-up polls as before.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import select
import socket
import sys
from pathlib import Path

FALLBACK_S = 0.25  # the listener looks at the log this often even when nothing rang
SUPPORTED = sys.platform.startswith("linux")


def address_for(store: Path | str) -> bytes:
    """The bell's abstract socket address for the store file at ``store``."""
    digest = hashlib.sha256(os.path.realpath(store).encode()).hexdigest()[:40]
    return b"\0paylink-doorbell-" + digest.encode()


_sender: socket.socket | None = None


def ring(address: bytes) -> None:
    """Tell whoever listens at ``address`` that the store has new events (never blocks)."""
    global _sender
    if not SUPPORTED:
        return
    try:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
            atexit.register(_sender.close)
        _sender.sendto(b".", address)
    except OSError:
        # Nobody listening (ECONNREFUSED), or rings already queued (EAGAIN): either way
        # there is nothing more to do.
        return


class Doorbell:
    """The listening side: at most one per store (a second one finds it taken and polls)."""

    def __init__(self, store: Path | str) -> None:
        self.address = address_for(store)
        self._socket: socket.socket | None = None
        if not SUPPORTED:
            return
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listening.bind(self.address)
        except OSError:
            listening.close()  # someone else listens for this store: poll instead
            return
        listening.setblocking(False)
        self._socket = listening

    @property
    def listening(self) -> bool:
        """Whether this bell is heard (bound); if not, callers poll."""
        return self._socket is not None

    def wait(self, timeout: float) -> bool:
        """Sleep until a ring or ``timeout`` seconds; True when it rang. Clears the rings."""
        if self._socket is None:
            return False
        readable, _, _ = select.select([self._socket], [], [], timeout)
        if not readable:
            return False
        try:
            while True:
                self._socket.recv(16)
        except BlockingIOError:
            pass
        return True

    def wake(self) -> None:
        """Wake the listener (to stop it)."""
        ring(self.address)

    def close(self) -> None:
        """Stop listening."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

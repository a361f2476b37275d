"""Hold idle PostgreSQL connections until killed: proves the suite fits beside other clients.

    python scripts/hold_connections.py URL COUNT [READY_FILE]

Opens COUNT connections to URL (application_name ``paylink-ci-holder``), writes
READY_FILE once they are all open, then sleeps until SIGTERM/SIGINT and closes them.
CI starts it before the tests (see .ci/run): with PostgreSQL's max_connections at 100
and 40 of them held here, the suite must pass in the other 60.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import psycopg


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    url, count = argv[0], int(argv[1])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    held = []
    try:
        for _ in range(count):
            held.append(
                psycopg.connect(
                    url, autocommit=True, connect_timeout=10, application_name="paylink-ci-holder"
                )
            )
        print(f"holding {len(held)} PostgreSQL connections", file=sys.stderr)
        if len(argv) == 3:
            Path(argv[2]).write_text(f"{len(held)}\n")
        stop.wait()
    finally:
        for conn in held:
            conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The server ``paylink bench --http`` measures: ``paylink serve --workers N``'s, plus the
no-I/O baselines (``paylink_es.entrypoints.bench.validation``).

``python -m paylink_es.entrypoints.bench.server --port PORT --workers N [--log-level L]``
starts what ``serve --workers N`` starts (the HTTP workers and the projections process
beside them, settings from PAYLINK_*), each worker's app built by :func:`create`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fastapi import FastAPI

from api.app import app_from_environment
from paylink_es.entrypoints.bench.validation import DIRECT, ROUTERS
from paylink_es.entrypoints.cli import serve_workers
from paylink_es.settings import Settings


def create() -> FastAPI:
    """For uvicorn's ``--factory``: a worker's app as ``serve``'s, with the baselines."""
    return app_from_environment(extra_direct=DIRECT, extra_routers=ROUTERS)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped (SIGTERM or SIGINT)."""
    parser = argparse.ArgumentParser(prog="python -m paylink_es.entrypoints.bench.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    return serve_workers(
        Settings(),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        workers=args.workers,
        factory="paylink_es.entrypoints.bench.server:create",
    )


if __name__ == "__main__":
    raise SystemExit(main())

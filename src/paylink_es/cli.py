"""The ``paylink`` command: serve, demo, merchants, keys, bench.

This module is the composition root for processes: it is the one place in
``paylink_es`` allowed to reach up into ``api`` (for ``serve``), and only lazily.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from uuid import UUID

from paylink_es.errors import DomainError
from paylink_es.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    where = (settings.database_url and "PostgreSQL") or f"SQLite files in {settings.data_dir}/"
    print(f"Paylink ES on {settings.public_url} ({where})", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_app
    from paylink_es.demo import seed_demo

    with open_app(settings) as app:
        seed = seed_demo(app)
    print(f"Demo merchant: {seed.merchant_id}")
    print(f"Secret key (test mode, shown once): {seed.secret_key}")
    for description, code in seed.links:
        print(f"  {description}: {settings.public_url}/l/{code}")
    return 0


def _merchants_create(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_app

    with open_app(settings) as app:
        merchant_id = app.register_merchant(args.name, args.email)
        key = app.issue_api_key(merchant_id, "test")
    print(f"Merchant: {merchant_id}")
    print(f"Secret key (test mode, shown once): {key.secret}")
    return 0


def _keys_issue(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_app

    with open_app(settings) as app:
        key = app.issue_api_key(args.merchant, args.mode)
    print(f"Key id: {key.key_id}")
    print(f"Secret key ({key.mode} mode, shown once): {key.secret}")
    return 0


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_app

    with open_app(settings) as app:
        app.revoke_api_key(args.merchant, args.key)
    print(f"Revoked key {args.key}")
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bench import main as bench_main

    return bench_main(settings, quick=args.quick, as_json=args.json, commands=args.commands)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``paylink`` command."""
    parser = argparse.ArgumentParser(
        prog="paylink",
        description="Payment links on an event-sourced ledger. Works in ./var/ by default "
        "(SQLite); set PAYLINK_DATABASE_URL=postgresql://... for PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="seed a demo merchant and links; print key and URLs")
    demo.set_defaults(handler=_demo)

    merchants = commands.add_parser("merchants", help="manage merchants")
    merchant_commands = merchants.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = merchant_commands.add_parser("create", help="register a merchant, print its key")
    create.add_argument("--name", required=True)
    create.add_argument("--email")
    create.set_defaults(handler=_merchants_create)

    keys = commands.add_parser("keys", help="issue or revoke API keys")
    key_commands = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = key_commands.add_parser("issue", help="issue a secret key (shown once)")
    issue.add_argument("--merchant", type=UUID, required=True, help="merchant id")
    issue.add_argument("--mode", choices=["test", "live"], default="test")
    issue.set_defaults(handler=_keys_issue)
    revoke = key_commands.add_parser("revoke", help="revoke a key")
    revoke.add_argument("--merchant", type=UUID, required=True, help="merchant id")
    revoke.add_argument("--key", type=UUID, required=True, help="key id")
    revoke.set_defaults(handler=_keys_revoke)

    bench = commands.add_parser("bench", help="measure throughput beside baselines")
    bench.add_argument("--quick", action="store_true", help="finish within about 60 s")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--commands", type=int, help="commands per phase (default 3,000 quick)")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paylink`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as error:
        print(f"paylink: bad settings: {error}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except DomainError as error:
        print(f"paylink: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

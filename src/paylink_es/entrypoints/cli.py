"""The ``paylink`` command: serve, demo, merchants, keys, projections, audit, bench.

This module is the composition root for processes: it is the one place in
``paylink_es`` allowed to reach up into ``api`` and ``projections``, and only lazily.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from paylink_es.domain.errors import DomainError, InvalidFieldError
from paylink_es.entrypoints.cli_money import add_money_commands
from paylink_es.entrypoints.instants import NOW, When
from paylink_es.locale import WIB
from paylink_es.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from paylink_es.bootstrap import build
    from paylink_es.heap import freeze_startup_heap

    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    try:
        check_channels(settings)  # a bad key or a missing live setting stops serve here
    except InvalidFieldError as error:
        return _bad_setting(error)
    workers = args.workers or settings.workers
    where = (settings.database_url and "PostgreSQL") or f"SQLite files in {settings.data_dir}/"
    print(f"Paylink ES on {settings.public_url} ({where}, {workers} worker(s))", file=sys.stderr)
    if workers == 1:
        with build(settings) as services:
            app = create_app(services, run_projections=settings.run_projections)
            freeze_startup_heap()
            uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    return serve_workers(
        settings, host=args.host, port=args.port, log_level=args.log_level, workers=workers
    )


def check_channels(settings: Settings) -> None:
    """Build the configured channels once (keys loaded), or raise naming the bad setting."""
    from paylink_es.bootstrap.adapters import build_channels
    from paylink_es.channels.registry import close_all

    close_all(build_channels(settings))


def _bad_setting(error: InvalidFieldError) -> int:
    """Say which PAYLINK_* variable is wrong, and how (never its value)."""
    setting = f"PAYLINK_{(error.field or 'setting').upper()}"
    print(f"paylink: {setting} {error.message.partition(': ')[2]}", file=sys.stderr)
    return 2


def serve_workers(
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str,
    workers: int,
    factory: str = "api.app:app_from_environment",
) -> int:
    """Several HTTP workers (stateless) and, beside them, one process for the projections.

    Each worker builds its app with ``factory`` (``module:function``, called with no
    arguments), which reads its settings from PAYLINK_* as ``app_from_environment`` does.

    On Linux every child dies with this process, even when it is killed with SIGKILL: the
    projections process and each HTTP worker (``app_from_environment``) ask for SIGTERM on
    their parent's death (``die_with_parent``), so no orphan keeps the port. Elsewhere a
    SIGKILL still leaves them running; SIGTERM and SIGINT stop everything gracefully.
    """
    import functools
    import os
    import subprocess

    import uvicorn

    from paylink_es.process import die_with_parent

    env = {**os.environ, "PAYLINK_HOST": host, "PAYLINK_PORT": str(port)}
    env.setdefault(APPLICATION_NAME_VAR, "paylink-projections")
    projections = None
    if settings.run_projections:
        # The read models follow the log at a lower CPU priority: when the cores are
        # busy, requests are answered first and the projections catch up in larger pages.
        # Started from the main thread, which lives as long as this process (the
        # parent-death signal follows the thread that forked).
        projections = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paylink_es",
                "projections",
                "run",
                "--nice",
                "10",
            ],
            env=env,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
    os.environ.update(PAYLINK_HOST=host, PAYLINK_PORT=str(port), PAYLINK_RUN_PROJECTIONS="false")
    os.environ.setdefault(APPLICATION_NAME_VAR, settings.postgres_application_name)
    try:
        uvicorn.run(
            factory, factory=True, host=host, port=port, workers=workers, log_level=log_level
        )
    finally:
        if projections is not None:
            projections.terminate()
            projections.wait(timeout=30)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink
    from paylink_es.entrypoints.demo import seed_demo

    with open_paylink(settings) as app:
        seed = seed_demo(app)
    print(f"Demo merchant: {seed.merchant_id}")
    print(f"Secret key (test mode, shown once): {seed.secret_key}")
    for description, code in seed.links:
        print(f"  {description}: {settings.public_url}/l/{code}")
    return 0


def _merchants_create(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink

    with open_paylink(settings) as app:
        merchant_id = app.merchants.register(args.name, args.email)
        key = app.merchants.issue_key(merchant_id, "test")
    print(f"Merchant: {merchant_id}")
    print(f"Secret key (test mode, shown once): {key.secret}")
    return 0


def _keys_issue(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink

    with open_paylink(settings) as app:
        key = app.merchants.issue_key(args.merchant, args.mode)
    print(f"Key id: {key.key_id}")
    print(f"Secret key ({key.mode} mode, shown once): {key.secret}")
    return 0


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink

    with open_paylink(settings) as app:
        app.merchants.revoke_key(args.merchant, args.key)
    print(f"Revoked key {args.key}")
    return 0


def _users_create(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from paylink_es.bootstrap import open_paylink

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (10+ characters): ")
        if getpass.getpass("Again: ") != password:
            print("paylink: the passwords differ", file=sys.stderr)
            return 1
    with open_paylink(settings) as app:
        user_id = app.users.create_user(args.merchant, args.email, password, args.role, args.name)
    print(f"User: {user_id} ({args.role} of merchant {args.merchant})")
    print(f"Sign in at {settings.public_url}/dashboard")
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.entrypoints.bench import main as bench_main

    return bench_main(
        settings,
        quick=args.quick,
        as_json=args.json,
        commands=args.commands,
        http=args.http,
        cluster=args.cluster,
    )


def _node_count(text: str) -> int:
    """``--cluster N``: a whole number of nodes from 2 to 8."""
    from paylink_es.entrypoints.bench.cluster import MAX_NODES

    if not text.isdigit() or not 2 <= int(text) <= MAX_NODES:
        msg = f"N must be a whole number of nodes from 2 to {MAX_NODES}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _instant(text: str) -> When:
    """An ISO-8601 instant with a time zone (a bare date means its start in WIB), to the
    microsecond (finer digits are cut, never rounded up); or ``now``, which the command
    reads from the application's clock once it runs."""
    if text.strip().lower() == NOW:
        return NOW
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not an ISO-8601 instant, e.g. 2026-12-01T23:59:00.250+07:00, nor now"
        raise argparse.ArgumentTypeError(msg) from None
    if value.tzinfo is None:
        if len(text) == 10:  # a date: the day starts at midnight in Jakarta
            return value.replace(tzinfo=WIB)
        msg = f"{text!r} has no time zone; add one, e.g. +07:00 or Z"
        raise argparse.ArgumentTypeError(msg)
    return value


def _projections(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.entrypoints import operations as commands

    if args.action == "run":
        if args.nice > 0:
            import os

            os.nice(args.nice)
        return commands.run(settings)
    if args.action == "rebuild":
        # Emptying and refilling a large view may take longer than a request's statement.
        unbounded = settings.model_copy(update={"postgres_statement_timeout_s": 0.0})
        return commands.rebuild(unbounded, args.name)
    return commands.show_status(settings, args.json)


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.entrypoints.cluster import cluster_status

    return cluster_status(settings, args.json)


def _channels(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.entrypoints import operations as commands

    try:
        check_channels(settings)
    except InvalidFieldError as error:
        return _bad_setting(error)
    if args.action == "poll":
        return commands.channels_poll(settings)
    return commands.channels_status(settings, args.json)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.entrypoints import operations as commands

    if args.action == "replay":
        return commands.audit_replay(settings, args.as_of, args.merchant, args.format)
    if args.action == "what-if":
        return _what_if(args, settings)
    if args.action == "verify":
        return commands.audit_verify(settings)
    if args.action == "digest":
        return commands.audit_digest(settings)
    return commands.audit_export(settings, args.start, args.end, args.output)


def _what_if(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.domain.fees import FeePlanInvalidError
    from paylink_es.entrypoints import operations as commands
    from projections.whatif import period

    try:
        period(args.start, args.end)
    except InvalidFieldError as error:
        print(f"paylink: --{error.message}", file=sys.stderr)
        return 2
    try:
        plan = commands.read_plan(args.fee_plan)
        return commands.audit_what_if(
            settings, plan, args.merchant, args.start, args.end, args.format
        )
    except FeePlanInvalidError as error:  # nothing was written, and nothing printed
        print(f"paylink: bad fee plan {args.fee_plan}: {error.message}", file=sys.stderr)
        return 2
    except InvalidFieldError as error:  # the file cannot be read
        print(f"paylink: --{error.message}", file=sys.stderr)
        return 2


def _day(text: str) -> date:
    """A calendar day, YYYY-MM-DD (a day in Jakarta)."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not a date like 2026-01-31 (YYYY-MM-DD)"
        raise argparse.ArgumentTypeError(msg) from None


def _add_projection_commands(commands: Any) -> None:
    projections = commands.add_parser("projections", help="run, rebuild or inspect read models")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="keep every read model up to date (until Ctrl-C)")
    run.add_argument(
        "--nice",
        type=int,
        default=0,
        metavar="N",
        help="lower this process's CPU priority by N (serve uses 10: requests come first)",
    )
    rebuild = actions.add_parser("rebuild", help="rebuild read models from zero")
    rebuild.add_argument("name", nargs="?", help="links, payments, paylink, stats or audit")
    state = actions.add_parser("status", help="position, events and seconds behind")
    state.add_argument("--json", action="store_true")
    projections.set_defaults(handler=_projections)

    cluster = commands.add_parser(
        "cluster", help="the nodes on one PostgreSQL: who leads which background worker"
    )
    cluster_actions = cluster.add_subparsers(dest="action", required=True, metavar="ACTION")
    leaders = cluster_actions.add_parser(
        "status",
        help="which node leads which worker, since when, and how far behind each read model"
        " and the webhook outbox are",
    )
    leaders.add_argument("--json", action="store_true")
    cluster.set_defaults(handler=_cluster)

    channels = commands.add_parser(
        "channels", help="configured payment channels and the payments they still owe an answer"
    )
    channel_actions = channels.add_subparsers(dest="action", required=True, metavar="ACTION")
    waiting = channel_actions.add_parser(
        "status", help="each channel, and the payments the poller is waiting on"
    )
    waiting.add_argument("--json", action="store_true")
    channel_actions.add_parser("poll", help="ask the channels about every waiting payment now")
    channels.set_defaults(handler=_channels)

    audit = commands.add_parser(
        "audit", help="replay, what-if, verify, digest and export the books"
    )
    audits = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    replay = audits.add_parser("replay", help="rebuild balances from the store up to an instant")
    replay.add_argument(
        "--as-of", type=_instant, required=True, help="ISO-8601 instant with a zone, or now"
    )
    replay.add_argument("--merchant", type=UUID, help="only this merchant")
    replay.add_argument("--format", choices=["table", "json", "csv"], default="table")
    whatif = audits.add_parser(
        "what-if",
        help="re-price verified payments under another fee plan, beside the fees charged",
    )
    whatif.add_argument(
        "--fee-plan",
        type=Path,
        required=True,
        metavar="FILE",
        help="a JSON fee plan (as `paylink merchants fee-plan` prints it)",
    )
    whatif.add_argument("--merchant", type=UUID, metavar="ID", help="only this merchant")
    whatif.add_argument(
        "--from",
        dest="start",
        type=_day,
        metavar="DATE",
        help="first day of verification, YYYY-MM-DD in WIB (inclusive; default: the first)",
    )
    whatif.add_argument(
        "--to",
        dest="end",
        type=_day,
        metavar="DATE",
        help="last day of verification, YYYY-MM-DD in WIB (inclusive; default: the last)",
    )
    whatif.add_argument("--format", choices=["table", "json", "csv"], default="table")
    audits.add_parser("verify", help="check the store against the hash chain")
    audits.add_parser("digest", help="print the hash chain's head")
    export = audits.add_parser("export", help="the journal as CSV for accountants")
    export.add_argument(
        "--from", dest="start", type=_instant, help="first instant (inclusive), or now"
    )
    export.add_argument("--to", dest="end", type=_instant, help="last instant (exclusive), or now")
    export.add_argument("--output", type=Path, help="file to write (default: stdout)")
    audit.set_defaults(handler=_audit)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``paylink`` command."""
    parser = argparse.ArgumentParser(
        prog="paylink",
        description="Payment links on an event-sourced paylink. Works in ./var/ by default "
        "(SQLite); set PAYLINK_DATABASE_URL=postgresql://... for PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, help="HTTP worker processes (default 1)")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
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

    users = commands.add_parser("users", help="dashboard users")
    user_commands = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    user = user_commands.add_parser("create", help="give a merchant's staff a dashboard login")
    user.add_argument("--merchant", type=UUID, required=True, help="merchant id")
    user.add_argument("--email", required=True)
    user.add_argument("--name")
    user.add_argument("--role", choices=["owner", "viewer"], default="owner")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.set_defaults(handler=_users_create)

    add_money_commands(commands, merchant_commands)

    _add_projection_commands(commands)

    bench = commands.add_parser("bench", help="measure throughput beside baselines")
    bench.add_argument("--quick", action="store_true", help="finish within about 60 s")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--http", action="store_true", help="link creation over HTTP instead")
    bench.add_argument("--commands", type=int, help="commands per phase (default 3,000 quick)")
    bench.add_argument(
        "--cluster",
        type=_node_count,
        metavar="N",
        help="PostgreSQL: creates over HTTP on 1 serve node, then on N (2-8), and the takeover"
        " after the leading node is killed",
    )
    bench.set_defaults(handler=_bench)
    return parser


# application_name of each kind of process's PostgreSQL connections (pg_stat_activity),
# unless PAYLINK_POSTGRES_APPLICATION_NAME says otherwise.
APPLICATION_NAME_VAR = "PAYLINK_POSTGRES_APPLICATION_NAME"


def role(args: argparse.Namespace) -> str:
    """What this process is, as its PostgreSQL connections say it."""
    if args.handler is _serve:
        return "paylink-serve"
    if args.handler is _projections and args.action == "run":
        return "paylink-projections"
    return "paylink-cli"


def named(settings: Settings, name: str) -> Settings:
    """``settings`` whose connections say ``name``, unless a name was configured."""
    if "postgres_application_name" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"postgres_application_name": name})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paylink`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as error:
        print(f"paylink: bad settings: {error}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    settings = named(settings, role(args))
    try:
        return handler(args, settings)
    except DomainError as error:
        print(f"paylink: {error.message}", file=sys.stderr)
        return 1
    except ValueError as error:  # e.g. an unknown projection name
        print(f"paylink: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

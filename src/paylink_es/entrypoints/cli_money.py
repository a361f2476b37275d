"""``paylink settle``, ``paylink settlements``, ``paylink payouts`` and the merchant's money
settings (``paylink merchants bank-account|fee-plan|policy``).

Handlers import the projections lazily, like the rest of the CLI (see ``cli.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from paylink_es.domain.errors import InvalidFieldError
from paylink_es.settings import Settings


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"{value!r} is not a date like 2026-11-27"
        raise argparse.ArgumentTypeError(msg) from None


def _settle(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink
    from paylink_es.entrypoints.operations import ProgressBar
    from projections.runner import ReadModels
    from workers.settlement import settle_day, today_in_jakarta

    with open_paylink(settings) as paylink:
        today = today_in_jakarta(paylink)
        if args.date is not None and args.date > today and not args.force:
            print(
                f"paylink: --date {args.date} is after today ({today} in Asia/Jakarta):"
                " settling a day ahead makes money available before it is due; nothing was"
                " settled. Pass --force to settle that day anyway.",
                file=sys.stderr,
            )
            return 2
        models = ReadModels(settings)
        try:
            day = args.date or today
            bar = ProgressBar(f"settle {day.isoformat()}", unit="payments")
            run = settle_day(
                paylink, models, day, merchant_id=args.merchant, catch_up=True, progress=bar
            )
            bar.finish()
        finally:
            models.close()
    summary = run.as_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"settled {run.settled:,} payment(s) into {len(run.batches)} batch(es) for {day};"
        f" {run.not_due:,} not yet due, {run.skipped:,} no longer verified"
    )
    for currency, total in sorted(run.totals.items()):
        print(f"  {currency}: gross {total['gross']:,}  fee {total['fee']:,}  net {total['net']:,}")
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink
    from projections.queries.payments import settlement_report
    from projections.runner import CatchUp, ReadModels
    from workers.settlement import report_csv

    with open_paylink(settings) as paylink:
        models = ReadModels(settings, ["payments"])
        try:
            CatchUp(paylink.app, [models["payments"]]).run_once()
            day = args.date.isoformat() if args.date else None
            rows = settlement_report(models, args.merchant, args.mode, day)
        finally:
            models.close()
    out = args.output.open("w", newline="") if args.output else sys.stdout
    try:
        for chunk in report_csv(rows):
            out.write(chunk)
    finally:
        if args.output:
            out.close()
            print(f"wrote {len(rows):,} settled payment(s) to {args.output}", file=sys.stderr)
    return 0


def _payout_finish(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink

    with open_paylink(settings) as paylink:
        if args.action == "complete":
            payout = paylink.money.complete_payout(args.payout, args.reference)
        else:
            payout = paylink.money.fail_payout(args.payout, args.reason)
    print(f"payout {payout.id}: {payout.status} ({payout.amount})")
    return 0


def _bank_account(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink

    with open_paylink(settings) as paylink:
        paylink.merchants.set_bank_account(args.merchant, args.bank, args.number, args.holder)
    print(f"payouts of {args.merchant} go to {args.bank} ••••{args.number[-4:]}")
    return 0


def _fee_plan(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink
    from paylink_es.domain.fees import FeePlan

    with open_paylink(settings) as paylink:
        if args.file is not None:
            try:
                data: Any = json.loads(args.file.read_text())
            except (OSError, ValueError) as error:
                raise InvalidFieldError("file", f"cannot read a JSON fee plan: {error}") from None
            paylink.merchants.set_fee_plan(args.merchant, FeePlan.from_dict(data))
        plan = paylink.merchants.get(args.merchant).fee_plan
    print(json.dumps(plan.to_dict(), indent=2))
    return 0


def _policy(args: argparse.Namespace, settings: Settings) -> int:
    from paylink_es.bootstrap import open_paylink
    from paylink_es.domain.link import DEFAULT_DECISIONS

    policy: dict[str, str] = {}
    for item in args.decisions:
        anomaly, sep, decision = item.partition("=")
        if not sep:
            raise InvalidFieldError("policy", f"{item!r} is not anomaly=decision")
        policy[anomaly] = decision
    with open_paylink(settings) as paylink:
        if policy:
            current = dict(paylink.merchants.get(args.merchant).anomaly_policy)
            paylink.merchants.set_anomaly_policy(args.merchant, {**current, **policy})
        chosen = paylink.merchants.get(args.merchant).anomaly_policy
    for anomaly in sorted(DEFAULT_DECISIONS):
        print(f"{anomaly:<24} {chosen.get(anomaly) or DEFAULT_DECISIONS[anomaly]}")
    return 0


def _about(parsers: Any, name: str, help_text: str, which: str) -> Any:
    """A subcommand about one thing, named by its id (``--payout``, ``--merchant``)."""
    command = parsers.add_parser(name, help=help_text)
    command.add_argument(which, type=UUID, required=True)
    return command


def add_money_commands(commands: Any, merchant_commands: Any) -> None:
    """Add settle, settlements, payouts and the merchants' money settings to the CLI."""
    settle = commands.add_parser("settle", help="settle due payments: pending -> available")
    settle.add_argument(
        "--date",
        type=_day,
        help="settlement day (default: today in Jakarta); a later day needs --force",
    )
    settle.add_argument(
        "--force", action="store_true", help="settle a --date after today (Asia/Jakarta)"
    )
    settle.add_argument("--merchant", type=UUID, help="only this merchant")
    settle.add_argument("--json", action="store_true")
    settle.set_defaults(handler=_settle)

    settlements = commands.add_parser("settlements", help="settlement reports")
    actions = settlements.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = actions.add_parser("report", help="a merchant's settled payments as CSV")
    report.add_argument("--merchant", type=UUID, required=True)
    report.add_argument("--mode", choices=["test", "live"], default="test")
    report.add_argument("--date", type=_day, help="one settlement day (default: all)")
    report.add_argument("--output", type=Path, help="file to write (default: stdout)")
    report.set_defaults(handler=_report)

    payouts = commands.add_parser("payouts", help="finish live payouts made by bank transfer")
    payout_actions = payouts.add_subparsers(dest="action", required=True, metavar="ACTION")
    complete = _about(payout_actions, "complete", "the transfer went through", "--payout")
    complete.add_argument("--reference", required=True, help="the bank's transfer reference")
    complete.set_defaults(handler=_payout_finish)
    fail = _about(
        payout_actions, "fail", "the transfer failed: money back to available", "--payout"
    )
    fail.add_argument("--reason", required=True)
    fail.set_defaults(handler=_payout_finish)

    bank = _about(merchant_commands, "bank-account", "set where payouts go", "--merchant")
    bank.add_argument("--bank", required=True, help="e.g. BCA")
    bank.add_argument("--number", required=True, help="account number")
    bank.add_argument("--holder", required=True, help="account holder's name")
    bank.set_defaults(handler=_bank_account)

    plan = _about(
        merchant_commands, "fee-plan", "show or set the merchant's fee plan", "--merchant"
    )
    plan.add_argument("--file", type=Path, help="a JSON fee plan to set (see docs)")
    plan.set_defaults(handler=_fee_plan)

    policy = _about(merchant_commands, "policy", "show or set the anomaly policy", "--merchant")
    policy.add_argument(
        "decisions", nargs="*", metavar="ANOMALY=DECISION", help="e.g. overpaid=accept"
    )
    policy.set_defaults(handler=_policy)

"""Every event the read side and the posting rules name is an event of the domain.

Read models and posting rules select events by class (:mod:`projections.events`,
``paylink_es.domain.postings``), looked up by name when their module loads, so a renamed
event fails the import. These tests check the rest: that the lookup refuses a name the
domain does not have, that every aggregate is catalogued, that what each read model
reads is the domain's, and that no string naming an event (``"Payment.Verified"``,
``event_type(Payment, "Verified")``, a timeline label) is left that names none.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, DomainEvent

import paylink_es.domain
from paylink_es.domain import postings
from paylink_es.domain.aggregate import PaylinkAggregate, UnknownEventError, event_type
from paylink_es.domain.link import PaymentLink
from paylink_es.domain.payment import Payment
from paylink_es.domain.webhooks import PUBLIC_EVENTS
from paylink_es.locale.dashboard import DASHBOARD_TEXT
from projections.events import AGGREGATES, event_named
from projections.links import timeline_event
from projections.runner import READ_MODELS

ROOT = Path(__file__).resolve().parents[2]
# Where events are named: the read side, the posting rules, the public event types.
NAMING = sorted(
    [
        *(ROOT / "projections").rglob("*.py"),
        *(ROOT / "workers").rglob("*.py"),
        ROOT / "src" / "paylink_es" / "domain" / "postings.py",
        ROOT / "src" / "paylink_es" / "domain" / "webhooks.py",
    ]
)
QUALIFIED = re.compile(r"([A-Z]\w*)\.(\w*)")  # "Payment.Verified", or "Payment." for all
LOOKUPS = {"event_type", "_event"}  # event_type(Payment, "Verified"), postings' _event
AGGREGATE_NAMES = {aggregate.__qualname__: aggregate for aggregate in AGGREGATES}


def domain_events() -> set[type]:
    """Every event class of every aggregate."""
    return {
        value
        for aggregate in AGGREGATES
        for name, value in vars(aggregate).items()
        if inspect.isclass(value) and issubclass(value, DomainEvent) and name != "Event"
    }


def unresolved(path: Path) -> list[str]:
    """The event names in a source file that name no event of the domain."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = QUALIFIED.fullmatch(node.value)
            if match and match[1] in AGGREGATE_NAMES and match[2]:
                try:
                    event_named(node.value)
                except UnknownEventError:
                    found.append(f"{path.name}:{node.lineno}: {node.value!r}")
            elif match and not match[2] and match[1] not in AGGREGATE_NAMES:
                found.append(f"{path.name}:{node.lineno}: no aggregate {match[1]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in LOOKUPS
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            aggregate, name = AGGREGATE_NAMES.get(node.args[0].id), node.args[1].value
            try:
                if aggregate is None:
                    raise UnknownEventError(node.args[0].id)
                event_type(aggregate, name)
            except UnknownEventError:
                found.append(f"{path.name}:{node.lineno}: {node.args[0].id}.{name}")
    return sorted(found)


def test_every_aggregate_of_the_domain_is_catalogued() -> None:
    defined = set()
    for module in pkgutil.iter_modules(paylink_es.domain.__path__):
        loaded = importlib.import_module(f"paylink_es.domain.{module.name}")
        defined |= {
            value
            for value in vars(loaded).values()
            if inspect.isclass(value)
            and issubclass(value, Aggregate)
            and value.__module__ == loaded.__name__
            and value is not PaylinkAggregate
        }
    assert defined == set(AGGREGATES)


def test_what_each_read_model_and_posting_rule_reads_is_the_domains() -> None:
    events = domain_events()
    for model in READ_MODELS:
        if model.reads is None:
            continue
        assert model.reads, model.name
        strangers = {cls for cls in model.reads if cls not in events and cls not in AGGREGATES}
        assert strangers == set(), f"{model.name} reads {strangers}"
    assert postings.POSTING_EVENTS
    assert events >= postings.POSTING_EVENTS
    assert events >= {event_named(name) for name in PUBLIC_EVENTS}


def test_no_source_names_an_event_the_domain_does_not_have() -> None:
    assert [problem for path in NAMING for problem in unresolved(path)] == []


def test_the_dashboards_timeline_labels_name_timeline_events() -> None:
    written = {
        timeline_event(cls)
        for cls in domain_events()
        if issubclass(cls, PaymentLink.Event | Payment.Event)
    }
    for language, words in DASHBOARD_TEXT.items():
        labelled = {key.removeprefix("ev_") for key in words if key.startswith("ev_")}
        assert labelled <= written, f"{language}: labels for no event {labelled - written}"


def test_a_planted_typo_is_noticed(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from projections.events import event_type\n"
        "from paylink_es.domain.payment import Payment\n"
        'RULES = {"Payment.Verifed": 1, "Payment.Verified": 2, "Paymnt.": 3, "Payment.": 4}\n'
        'VERIFIED = event_type(Payment, "Verifed")\n'
        'SETTLED = event_type(Payment, "Settled")\n'
    )
    assert unresolved(planted) == [
        "planted.py:3: 'Payment.Verifed'",
        "planted.py:3: no aggregate 'Paymnt'",
        "planted.py:4: Payment.Verifed",
    ]


@pytest.mark.parametrize(
    ("lookup", "name"),
    [
        (lambda: event_type(Payment, "Verifed"), "Verifed"),
        (lambda: event_type(Payment, "Event"), "Event"),
        (lambda: event_type(Payment, "verify_payment"), "verify_payment"),
        (lambda: event_named("Payment.Verifed"), "Verifed"),
        (lambda: event_named("Paymnt.Verified"), "Paymnt"),
    ],
)
def test_a_name_the_domain_does_not_have_fails_the_lookup(lookup: object, name: str) -> None:
    assert callable(lookup)
    with pytest.raises(UnknownEventError, match=name):
        lookup()


def test_the_posting_rules_use_the_same_lookup_as_the_read_side() -> None:
    assert vars(postings)["event_type"] is event_type
    assert event_type(Payment, "Verified").__qualname__ == "Payment.Verified"

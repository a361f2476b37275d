"""The dependency rule, by package: each layer imports only the layers beneath it.

domain            the aggregates, money, rules: no I/O, no framework
locale            words and formats (over the domain's values)
support modules   settings, retry, signing, bearer, faults, process, heap, resolver, closing
store             the event store on SQLite/PostgreSQL (the library's factory hooks)
application       the services that run commands on the store
channels, notify  adapters for payment channels and for sending messages
bootstrap         the composition root: builds the graph from settings
projections       read models          workers   process managers
api               HTTP                 entrypoints   the CLI, bench, demo (may use all)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = {
    "settings",
    "retry",
    "signing",
    "bearer",
    "faults",
    "process",
    "heap",
    "resolver",
    "closing",
}
CORE = {"domain", "locale", "support", "store", "application", "channels", "notify"}
# What each layer may import, first-party.
MAY_IMPORT: dict[str, set[str]] = {
    "domain": {"domain"},
    "locale": {"domain", "locale"},
    "support": {"domain", "support"},
    "store": {"domain", "support", "store"},
    "application": {"domain", "locale", "support", "store", "application"},
    "channels": {"domain", "locale", "support", "application", "channels"},
    "notify": {"domain", "locale", "support", "application", "notify"},
    "bootstrap": CORE | {"bootstrap"},
    "projections": CORE | {"bootstrap", "projections"},
    "workers": CORE | {"bootstrap", "projections", "workers"},
    "api": CORE | {"bootstrap", "projections", "workers", "api"},
    "entrypoints": CORE | {"bootstrap", "projections", "workers", "api", "entrypoints"},
}
# Outside packages a layer must not reach for.
WEB = {"fastapi", "starlette", "jinja2", "uvicorn"}
IO = {"psycopg", "psycopg_pool", "sqlite3", "httpx", "socket", "subprocess", "urllib.request"}
# Adapters and services take plain values: only the composition root reads the settings.
SETTINGS = {"paylink_es.settings"}
FORBIDDEN: dict[str, set[str]] = {
    "domain": WEB | IO | SETTINGS | {"orjson", "pydantic", "eventsourcing.persistence"},
    "locale": WEB | IO | {"eventsourcing"},
    "application": WEB | SETTINGS | {"psycopg", "psycopg_pool", "sqlite3", "httpx", "socket"},
    "store": WEB | {"httpx"},
    "channels": WEB | SETTINGS | {"psycopg", "sqlite3"},
    "notify": WEB | SETTINGS | {"psycopg", "sqlite3"},
    "projections": WEB | {"httpx"},
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name (None: not ours)."""
    parts = module.split(".")
    if parts[0] in {"api", "projections", "workers"}:
        return parts[0]
    if parts[0] != "paylink_es":
        return None
    if len(parts) > 1 and parts[1] == "__main__":
        return "entrypoints"  # python -m paylink_es: the CLI
    if len(parts) == 1 or parts[1] == "__version__":
        return "support"
    if parts[1] in SUPPORT:
        return "support"
    return parts[1]


def layer_of_file(path: Path) -> str:
    relative = path.relative_to(ROOT)
    if relative.parts[0] == "src":
        name = ".".join(relative.with_suffix("").parts[1:])
        return layer_of(name.removesuffix(".__init__")) or "support"
    return relative.parts[0]


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, anywhere in its body (``from a import b``: a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(path: Path, layer: str) -> list[str]:
    """The imports of ``path`` that its layer may not make."""
    found = []
    allowed = MAY_IMPORT[layer]
    banned = FORBIDDEN.get(layer, set())
    for name in sorted(imports_of(path)):
        target = layer_of(name)
        if target is not None and target not in allowed:
            found.append(f"{name} ({target})")
        elif any(name == b or name.startswith(b + ".") for b in banned):
            found.append(name)
    return found


SOURCES = sorted(
    p for top in ("src", "api", "projections", "workers") for p in (ROOT / top).rglob("*.py")
)


def test_every_source_file_belongs_to_a_known_layer() -> None:
    unknown = {str(p.relative_to(ROOT)) for p in SOURCES if layer_of_file(p) not in MAY_IMPORT}
    assert unknown == set()


@pytest.mark.parametrize("module", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_layer_imports_only_the_layers_beneath_it(module: Path) -> None:
    assert violations(module, layer_of_file(module)) == []


@pytest.mark.parametrize(
    ("layer", "planted"),
    [
        ("domain", "from paylink_es.application.services import Paylink"),
        ("domain", "import sqlite3"),
        ("domain", "from paylink_es.store.postgres import connect"),
        ("application", "from api.app import create_app"),
        ("application", "import httpx"),
        ("store", "from paylink_es.application.services import Paylink"),
        ("projections", "from workers.webhook_sender import WebhookSender"),
        ("projections", "from api.problems import ProblemError"),
        ("workers", "from paylink_es.entrypoints.cli import main"),
        ("api", "from paylink_es.entrypoints.cli import main"),
        ("channels", "from paylink_es.notify.port import Notifier"),
        ("channels", "from paylink_es.settings import Settings"),
        ("notify", "from paylink_es.settings import Settings"),
        ("application", "from paylink_es.settings import Settings"),
    ],
)
def test_the_rule_checker_notices_a_wrong_way_import(
    tmp_path: Path, layer: str, planted: str
) -> None:
    module = tmp_path / "planted.py"
    module.write_text(f"def f() -> None:\n    {planted}\n")
    assert violations(module, layer) != []


def test_the_layers_of_real_modules_are_read_from_their_paths() -> None:
    src = ROOT / "src" / "paylink_es"
    assert layer_of_file(src / "domain" / "link.py") == "domain"
    assert layer_of_file(src / "settings.py") == "support"
    assert layer_of_file(src / "bootstrap" / "adapters.py") == "bootstrap"
    assert layer_of_file(ROOT / "workers" / "channel_poller.py") == "workers"
    assert layer_of("paylink_es.domain.money.Money") == "domain"
    assert layer_of("eventsourcing.domain") is None
    assert "sqlite3" in sys.stdlib_module_names  # the IO bans name real modules


def class_swaps(path: Path) -> list[int]:
    """Lines that assign an object's ``__class__`` (a swap the library offers hooks for)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Attribute) and t.attr == "__class__" for t in node.targets)
    ]


@pytest.mark.parametrize("module", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_object_has_its_class_swapped(module: Path) -> None:
    assert class_swaps(module) == []


def test_the_class_swap_checker_notices_one(tmp_path: Path) -> None:
    module = tmp_path / "swap.py"
    module.write_text("def f(pool: object) -> None:\n    pool.__class__ = int\n")
    assert class_swaps(module) == [2]

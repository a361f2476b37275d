"""The dependency rule: api -> projections -> paylink_es, and no SQL or HTTP in the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The composition roots may reach outward (lazily); everything else in the core may not.
COMPOSITION_ROOTS = {"cli.py", "cli_money.py", "bench.py", "bootstrap.py"}
# Store adapters speak to the database drivers; only the composition roots may use them.
STORE_ADAPTERS = {"bulkload.py", "pgstore.py", "sqlite_store.py"}
FORBIDDEN_IN_CORE = {
    "api",
    "projections",
    "fastapi",
    "starlette",
    "jinja2",
    "psycopg",
    "sqlite3",
    "uvicorn",
}


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports, anywhere in its body."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


CORE_MODULES = sorted(
    p
    for p in (ROOT / "src" / "paylink_es").rglob("*.py")
    if p.name not in COMPOSITION_ROOTS | STORE_ADAPTERS
)


@pytest.mark.parametrize("module", CORE_MODULES, ids=lambda p: p.name)
def test_domain_modules_import_no_web_framework_sql_driver_or_outer_layer(module: Path) -> None:
    assert not imported_roots(module) & FORBIDDEN_IN_CORE


def imported_modules(path: Path) -> set[str]:
    """Full dotted names a module imports from, anywhere in its body."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE_MODULES, ids=lambda p: p.name)
def test_store_adapters_are_reached_only_through_the_composition_roots(module: Path) -> None:
    adapters = {f"paylink_es.{name.removesuffix('.py')}" for name in STORE_ADAPTERS}
    assert not imported_modules(module) & adapters


@pytest.mark.parametrize(
    "module", sorted((ROOT / "projections").rglob("*.py")), ids=lambda p: p.name
)
def test_projections_never_import_the_api(module: Path) -> None:
    assert "api" not in imported_roots(module)


def test_the_rule_checker_notices_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f() -> None:\n    from api.app import create_app\n")
    assert "api" in imported_roots(module)


def class_swaps(path: Path) -> list[int]:
    """Lines that assign an object's ``__class__`` (a swap the library offers hooks for)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Attribute) and t.attr == "__class__" for t in node.targets)
    ]


SOURCES = sorted(p for top in ("src", "api", "projections") for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("module", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_object_has_its_class_swapped(module: Path) -> None:
    assert class_swaps(module) == []


def test_the_class_swap_checker_notices_one(tmp_path: Path) -> None:
    module = tmp_path / "swap.py"
    module.write_text("def f(pool: object) -> None:\n    pool.__class__ = int\n")
    assert class_swaps(module) == [2]

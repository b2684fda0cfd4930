"""Imports run one way, bottom up: models, core, notifier, resolvers, schema, server,
main.py. A module may import its own floor and the floors below it, never one above."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["models", "core", "notifier", "resolvers", "schema", "server", "main"]
# Third-party packages a floor must not reach for: the transport stays above the flows.
FORBIDDEN = {
    "models": {"strawberry", "starlette", "uvicorn", "twilio"},
    "core": {"strawberry", "starlette", "uvicorn", "twilio"},
    "notifier": {"strawberry", "starlette", "uvicorn"},
    "resolvers": {"strawberry", "starlette", "uvicorn", "twilio"},
}


def _modules() -> list[Path]:
    """Every module, the migrations included: a migration keeps the rules it was written
    with, so it imports nothing above models either."""
    files = [ROOT / "main.py"]
    for floor in FLOORS[:-1]:
        files += sorted((ROOT / floor).rglob("*.py"))
    return files


def _floor(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return "main" if rel.name == "main.py" and len(rel.parts) == 1 else rel.parts[0]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_its_floor_and_those_below(path: Path) -> None:
    # given
    floor = _floor(path)
    allowed = set(FLOORS[: FLOORS.index(floor) + 1])
    # when
    upward = [
        name
        for name in _imports(path)
        if name.split(".")[0] in FLOORS and name.split(".")[0] not in allowed
    ]
    banned = [n for n in _imports(path) if n.split(".")[0] in FORBIDDEN.get(floor, set())]
    # then
    assert upward == [], f"{path.name} ({floor}) imports a floor above it: {upward}"
    assert banned == [], f"{path.name} ({floor}) imports a transport library: {banned}"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    # given: a resolver that reaches up into the GraphQL layer
    bad = tmp_path / "bad.py"
    bad.write_text("from schema.types import User\nimport strawberry\n")
    # when
    names = _imports(bad)
    # then
    assert "schema.types" in names and "strawberry" in names

"""The client operations and the generated Python client never drift.

clients/operations/ holds one GraphQL document per operation of the schema (the README,
the SPA and both generated clients use them). clients/python/phonegate_client/ is
ariadne-codegen's output for those documents and schema.graphql; it is not edited by hand:
here it is generated again, into a temporary folder, and compared file by file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, parse, validate
from graphql import build_schema as parse_sdl

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "clients" / "operations"
GENERATED = ROOT / "clients" / "python" / "phonegate_client"
CODEGEN_PROJECT = ROOT / "clients" / "python" / "codegen"
CODEGEN = ["ariadne-codegen", "--config"]
REGENERATE = "uv run --project clients/python/codegen ariadne-codegen --config pyproject.toml"


def documents() -> dict[str, OperationDefinitionNode]:
    """Each operations file's single operation, by file stem."""
    found: dict[str, OperationDefinitionNode] = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        (definition,) = parse(path.read_text()).definitions
        assert isinstance(definition, OperationDefinitionNode), path.name
        found[path.stem] = definition
    return found


def test_each_operations_file_is_one_valid_operation_named_like_the_file():
    # given
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    # when
    ops = documents()
    errors = {
        name: [
            str(e) for e in validate(schema, parse((OPERATIONS / f"{name}.graphql").read_text()))
        ]
        for name in ops
    }
    # then
    assert {name: op.name.value if op.name else None for name, op in ops.items()} == {
        name: name for name in ops
    }
    assert {name: e for name, e in errors.items() if e} == {}


def test_every_query_and_mutation_of_the_schema_has_an_operation():
    # given
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    roots = {*schema.query_type.fields, *schema.mutation_type.fields}
    # when
    covered = {
        selection.name.value
        for op in documents().values()
        for selection in op.selection_set.selections
        if hasattr(selection, "name")
    }
    # then
    assert roots - covered == set(), "add an operation to clients/operations/"


def codegen_config(target: Path) -> str:
    """The repository's [tool.ariadne-codegen] with only the target folder changed."""
    section: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "ariadne-codegen"
    ]
    scalars = section.pop("scalars", {})
    section["target_package_path"] = str(target)
    lines = ["[tool.ariadne-codegen]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in section.items()]
    for name, spec in scalars.items():
        lines.append(f"[tool.ariadne-codegen.scalars.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def package_files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_generated_python_client_is_what_ariadne_codegen_makes_now(tmp_path):
    # given
    uv = shutil.which("uv")
    assert uv, "uv is needed to run the pinned ariadne-codegen (clients/python/codegen)"
    config = tmp_path / "codegen.toml"
    config.write_text(codegen_config(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # when
    run = subprocess.run(
        [
            uv,
            "run",
            "--quiet",
            "--locked",
            "--project",
            str(CODEGEN_PROJECT),
            *CODEGEN,
            str(config),
        ],
        cwd=ROOT,  # the paths in the config (and the generated comments) are relative to it
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # then
    assert run.returncode == 0, run.stdout + run.stderr
    fresh = package_files(tmp_path / "phonegate_client")
    committed = package_files(GENERATED)
    assert sorted(fresh) == sorted(committed), f"files differ: run `{REGENERATE}`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"{', '.join(stale)} drifted: run `{REGENERATE}`"

"""The README's walkthrough shows the operation documents of clients/operations/ as they
are, its table names every error type of the schema, and its Python client snippet runs as
written against a started server: in the repository's environment (the client is a uv
workspace member) and in a fresh one after `uv pip install ./clients/python`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

from graphql import build_schema as parse_sdl

from tests import test_graphql_over_http
from tests.support import STRONG_PASSWORD, new_phone

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
GRAPHQL_BLOCK = re.compile(r"^( *)```graphql\n(.*?)^\1```", re.M | re.S)
FILE_MENTION = re.compile(r"clients/operations/(\w+)\.graphql")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_each_graphql_block_of_the_walkthrough_is_an_operations_file_verbatim():
    # given
    documents = {p.read_text() for p in (ROOT / "clients" / "operations").glob("*.graphql")}
    # when
    blocks = [textwrap.dedent(body) for _, body in GRAPHQL_BLOCK.findall(section("Walkthrough"))]
    # then
    assert len(blocks) >= 3
    assert [block for block in blocks if block not in documents] == []


def test_the_walkthrough_names_only_operations_files_that_exist():
    named = set(FILE_MENTION.findall(section("Walkthrough")))
    assert named and all((ROOT / f"clients/operations/{n}.graphql").exists() for n in named)


def test_the_errors_table_has_a_row_for_every_error_type_of_the_schema():
    # given
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    interface = schema.get_type("MutationError")
    error_types = {t.name for t in schema.get_possible_types(interface)}
    # when
    rows = set(re.findall(r"^\| `(\w+)` \|", section("Errors and what to do"), re.M))
    # then
    assert rows == error_types


# --- the Python client snippet, run as written -----------------------------------------------

started_server = test_graphql_over_http.started_server  # `uv run main.py`, module-scoped
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
README_URL = "http://127.0.0.1:8000/graphql"


def python_snippet() -> str:
    (snippet,) = PYTHON_BLOCK.findall(section("Walkthrough"))
    assert README_URL in snippet
    return snippet  # type: ignore[no-any-return]


def snippet_script(folder: Path, server_url: str, phone: str) -> Path:
    """The README's snippet verbatim (only its server address moved to the test's port),
    then a call of it, in a folder away from the repository (nothing of it on sys.path)."""
    script = folder / "snippet.py"
    body = python_snippet().replace(README_URL, f"{server_url}/graphql")
    call = f"\nimport asyncio\nprint(asyncio.run(sign_up({phone!r}, {STRONG_PASSWORD!r})))\n"
    script.write_text(body + call)
    return script


def uv() -> str:
    path = shutil.which("uv")
    assert path, "uv is needed"
    return path


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}


def test_the_python_snippet_runs_as_written_in_the_repository_environment(started_server, tmp_path):
    # given the client as a uv workspace member of the repository
    phone = new_phone()
    script = snippet_script(tmp_path, started_server.url, phone)
    # when
    done = subprocess.run(
        [uv(), "run", "--no-sync", "python", str(script)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == phone


def test_the_python_client_installs_with_uv_pip_and_runs_the_snippet(started_server, tmp_path):
    # given a fresh environment with nothing but the client installed
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", str(venv)], check=True, env=clean_env(), timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), str(ROOT / "clients/python")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    phone = new_phone()
    script = snippet_script(tmp_path, started_server.url, phone)
    # when
    done = subprocess.run(
        [str(python), str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    # then
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == phone

"""The README's walkthrough shows the operation documents of clients/operations/ as they
are, and its table names every error type of the schema."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from graphql import build_schema as parse_sdl

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

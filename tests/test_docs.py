"""The code cites only documents the repository has (README.md, SECURITY.md,
bench/README.md): a reader of a comment can open what it names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"(?<![\w/.-])([A-Z][A-Z_]*\.md)\b")  # "SECURITY.md", not "bench/README.md"
TEXT = (".py", ".graphql", ".js", ".ts", ".html", ".toml", ".md", ".sh")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith(TEXT) or n.startswith(".ci/")]


def test_every_document_cited_is_one_of_the_repository():
    # given the documents at the top of the repository
    documents = {p.name for p in ROOT.glob("*.md")}
    # when
    missing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _tracked_text_files()
        if path.is_file()
        for name in CITED.findall(path.read_text(errors="replace"))
        if name not in documents
    ]
    # then
    assert missing == []


def test_the_check_sees_a_document_the_repository_lacks():
    absent = "API" + ".md"  # spelled in two parts: this file is read by the test above
    assert CITED.findall(f"as {absent} gives it; README.md and bench/README.md") == [
        absent,
        "README.md",
    ]


def test_the_readme_leaves_measured_figures_of_a_change_to_bench_readme():
    # given the README, for whoever runs and maintains the server
    text = (ROOT / "README.md").read_text()
    # then no before/after timing and no bench table: they are bench/README.md's
    assert re.findall(r"\d[\d.]* ?m?s before", text) == []
    assert "cpu ms" not in text

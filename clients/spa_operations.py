"""Writes clients/spa/operations.js: the documents of clients/operations/*.graphql, verbatim,
as ES module exports the reference SPA imports (it has no build step and is served from its
own folder, so it cannot read clients/operations/ at run time), and DOCUMENT_IDS: each
operation's trusted-document id (sha256 of its text, as in clients/trusted_documents.json),
which is what the SPA sends instead of the text.

    uv run python clients/spa_operations.py          # rewrite clients/spa/operations.js
    uv run python clients/spa_operations.py --check  # exit 1 if it is out of date

tests/test_spa_operations.py fails when the file drifts from the documents.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent
OPERATIONS = CLIENTS / "operations"
TARGET = CLIENTS / "spa" / "operations.js"
HEADER = """\
// Generated from clients/operations/*.graphql by clients/spa_operations.py: do not edit.
// Each export is one operation's document, exactly as written there (the same documents
// the README shows and the generated Python and TypeScript clients are built from), and
// DOCUMENT_IDS, each one's trusted-document id (sha256 of the text), which the SPA sends.
"""


def render() -> str:
    parts = [HEADER]
    ids: list[str] = []
    for path in sorted(OPERATIONS.glob("*.graphql")):
        text = path.read_text()
        if "`" in text or "${" in text or "\\" in text:
            raise ValueError(f"{path.name}: cannot be a JS template literal as written")
        parts.append(f"\nexport const {path.stem} = `{text}`;\n")
        ids.append(f'  {path.stem}: "sha256:{hashlib.sha256(text.encode()).hexdigest()}",\n')
    parts.append("\nexport const DOCUMENT_IDS = {\n" + "".join(ids) + "};\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    fresh = render()
    if "--check" in argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != fresh:
            print(f"{TARGET} is out of date: run uv run python clients/spa_operations.py")
            return 1
        return 0
    TARGET.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

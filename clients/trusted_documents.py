"""Writes the trusted documents manifest and the clients' document ids, from
clients/operations/*.graphql (each file's text, hashed with sha256):

- clients/trusted_documents.json: {"sha256:<hex>": "<document text>"}, which the server
  loads (server/trusted_documents.py; TRUSTED_DOCUMENTS=allow|only);
- clients/python/transport/document_ids.py (ariadne-codegen copies it into the client) and
  clients/typescript/src/documentIds.ts: operation name -> document id, for the Python and
  TypeScript clients to send ids.

(clients/spa/operations.js carries the ids too: clients/spa_operations.py.)

    uv run python clients/trusted_documents.py          # rewrite them
    uv run python clients/trusted_documents.py --check  # exit 1 if one is out of date
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent
OPERATIONS = CLIENTS / "operations"
MANIFEST = CLIENTS / "trusted_documents.json"
PYTHON_IDS = CLIENTS / "python" / "transport" / "document_ids.py"
TYPESCRIPT_IDS = CLIENTS / "typescript" / "src" / "documentIds.ts"
NOTICE = "Generated from clients/operations/*.graphql by clients/trusted_documents.py: do not edit."


def document_id(text: str) -> str:
    """What a client sends as documentId: the sha256 of the document's UTF-8 text."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def documents() -> dict[str, str]:
    """Operation name (the file's stem) -> document text, sorted by name."""
    return {p.stem: p.read_text() for p in sorted(OPERATIONS.glob("*.graphql"))}


def ids() -> dict[str, str]:
    return {name: document_id(text) for name, text in documents().items()}


def render_manifest() -> str:
    manifest = {document_id(text): text for text in documents().values()}
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def render_python() -> str:
    lines = [f'"""{NOTICE}"""', "", "DOCUMENT_IDS: dict[str, str] = {"]
    lines += [f'    "{name}": "{value}",' for name, value in ids().items()]
    return "\n".join([*lines, "}", ""])


def render_typescript() -> str:
    lines = [f"// {NOTICE}", "export const DOCUMENT_IDS: Record<string, string> = {"]
    lines += [f'  {name}: "{value}",' for name, value in ids().items()]
    return "\n".join([*lines, "};", ""])


def outputs() -> dict[Path, str]:
    return {
        MANIFEST: render_manifest(),
        PYTHON_IDS: render_python(),
        TYPESCRIPT_IDS: render_typescript(),
    }


def main(argv: list[str]) -> int:
    stale = [
        path for path, text in outputs().items() if not path.exists() or path.read_text() != text
    ]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: run uv run python clients/trusted_documents.py")
        return 1 if stale else 0
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

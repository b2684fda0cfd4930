"""Server CPU per request, document text against trusted-document id, in one run:
``uv run bench/trusted_documents.py [--requests N] [--rounds R]``.

One server (``main.py``, development settings, SQLite, TRUSTED_DOCUMENTS=allow, then a
second with TRUSTED_DOCUMENTS=only); for each of a few operations of clients/operations/,
N requests sent as ``{"query": <text>}`` and N as ``{"documentId": "sha256:..."}``,
alternating in rounds so that the machine's noise falls on both alike. The figure is the
server process's CPU (utime + stime from /proc) per request, median over the rounds, with
the request bodies' sizes beside it. Printed as a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import servers
from run import cpu_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients.trusted_documents import documents, ids

OPERATIONS = {  # name -> variables; none of them sends an SMS or hashes a password
    "Me": {},
    "UsernameAvailable": {"username": "bench_user"},
    "RefreshSession": {"refreshToken": "not-a-token"},
}


async def measure(url: str, pids: list[int], requests: int, rounds: int) -> list[list[str]]:
    texts, document_ids = documents(), ids()
    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def burst(body: dict[str, object]) -> float:
            before = cpu_seconds(pids)
            for _ in range(requests):
                response = await http.post("/graphql", json=body)
                assert response.status_code == 200 and "errors" not in response.json(), (
                    response.text
                )
            return (cpu_seconds(pids) - before) * 1000 / requests

        for name, variables in OPERATIONS.items():
            as_text = {"query": texts[name], "variables": variables}
            as_id = {"documentId": document_ids[name], "variables": variables}
            await burst(as_text)  # warm: parser and validation caches, connections
            await burst(as_id)
            text_ms, id_ms = [], []
            for _ in range(rounds):
                text_ms.append(await burst(as_text))
                id_ms.append(await burst(as_id))
            rows.append(
                [
                    name,
                    f"{statistics.median(text_ms):.3f}",
                    f"{statistics.median(id_ms):.3f}",
                    str(len(json.dumps(as_text))),
                    str(len(json.dumps(as_id))),
                ]
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per burst")
    parser.add_argument("--rounds", type=int, default=7, help="bursts of each kind")
    args = parser.parse_args()
    header = ["operation", "text cpu ms", "id cpu ms", "text bytes", "id bytes"]
    for mode in ("allow", "only"):
        with tempfile.TemporaryDirectory(prefix="phonegate-trusted-") as tmp:
            folder = Path(tmp)
            env = servers.base_env(
                f"sqlite://{folder / 'bench.sqlite3'}",
                servers.free_port(),
                APP_ENV="development",
                LOG_FORMAT="text",
                TRUSTED_DOCUMENTS=mode,
            )
            server = servers.start(env, folder / "server.log", migrate_first=False)
            try:
                rows = asyncio.run(measure(server.url, server.pids(), args.requests, args.rounds))
            finally:
                server.stop()
        print(
            f"TRUSTED_DOCUMENTS={mode}: server CPU per request (median of {args.rounds} "
            f"bursts of {args.requests}), text vs documentId"
        )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

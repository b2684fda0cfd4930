"""After a fault: maintenance tries again soon after a failed pass, and the metrics folders
of servers that were killed are removed by the next start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from models.faults import DependencyUnavailable
from server import background, supervisor


async def test_a_failed_maintenance_pass_is_tried_again_soon(monkeypatch):
    # given: a database that fails the first pass
    passes: list[float] = []

    async def purge(deps):
        passes.append(asyncio.get_running_loop().time())
        if len(passes) == 1:
            raise DependencyUnavailable("database", TimeoutError())
        return {}

    monkeypatch.setattr(background, "purge", purge)
    # when
    task = asyncio.create_task(background.maintain(deps=None, retry_seconds=0.05))
    try:
        for _ in range(100):
            if len(passes) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    # then: the second pass came after the retry wait, not after the 10-minute period
    assert len(passes) == 2
    assert passes[1] - passes[0] < 1.0


def test_metrics_folders_of_exited_servers_are_removed_and_live_ones_kept():
    # given: a folder named for a process that has exited, one for a live process
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(exited.stdout)
    temp = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix=f"{supervisor.METRICS_PREFIX}{dead_pid}-", dir=temp))
    (dead / "counter_1.db").write_bytes(b"x")
    live = Path(tempfile.mkdtemp(prefix=f"{supervisor.METRICS_PREFIX}{os.getpid()}-", dir=temp))
    try:
        # when
        removed = supervisor.remove_orphaned_metrics()
        # then
        assert dead in removed and not dead.exists()
        assert live.exists()
    finally:
        for folder in (dead, live):
            if folder.exists():
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()

"""What the statement-chain tests share: the same flow once more on SQLite, where every
chain falls back to the ORM's statements (models/rows.py, ``chain_connection``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.backends.base.executor import EXECUTOR_CACHE

from core import settings as config
from server.app import migrate
from tests.conftest import TEST_SECRET

T = TypeVar("T")


async def on_sqlite(
    make_settings: Any,
    start_app: Any,
    tmp_path: Any,
    client: tuple[str, int],
    collect: Callable[[Any], Awaitable[T]],
) -> T:
    """``collect(api)`` against an app on a fresh SQLite file, for the same client."""
    lite = f"sqlite://{tmp_path / 'lite.sqlite3'}"
    EXECUTOR_CACHE.clear()  # compiled INSERTs are cached per connection name (conftest.py)
    try:
        await migrate(config.load(environ={"DATABASE_URL": lite, "JWT_SECRET": TEST_SECRET}))
        settings = make_settings(RESEND_COOLDOWN_SECONDS="0", DATABASE_URL=lite)
        async with start_app(settings, client=client) as api:
            return await collect(api)
    finally:
        EXECUTOR_CACHE.clear()  # the rest of the run is on PostgreSQL again


class ChainSpy:
    """``owner.name``, a statement chain that answers None when it wrote nothing, watched:
    ``wrote`` lists, per run, whether it wrote. ``off()`` makes it write nothing from then
    on, so that its caller takes the ORM's path (as on SQLite); ``on()`` undoes that."""

    def __init__(self, monkeypatch: Any, owner: object, name: str) -> None:
        self.wrote: list[bool] = []
        self._monkeypatch, self._owner, self._name = monkeypatch, owner, name
        self._chain = getattr(owner, name)
        self.on()

    async def _spied(self, *args: Any) -> Any:
        done = await self._chain(*args)
        self.wrote.append(done is not None)
        return done

    @staticmethod
    async def _unchained(*args: Any) -> None:
        return None

    def on(self) -> None:
        self._monkeypatch.setattr(self._owner, self._name, self._spied)

    def off(self) -> None:
        self._monkeypatch.setattr(self._owner, self._name, self._unchained)

"""The models and models/migrations/ agree: no model change is left without a migration."""

from __future__ import annotations

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from models import tortoise_config


async def test_models_have_no_changes_missing_from_migrations():
    config = tortoise_config("sqlite://:memory:")
    apps_config = config["apps"]
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, apps_config).changes()
    pending = [w.name for w in writers]
    assert not pending, f"run `uv run tortoise makemigrations`: pending {pending}"

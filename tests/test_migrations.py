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


async def test_username_skeleton_migration_rekeys_existing_names_and_keeps_clashes_apart(
    tmp_path,
):
    # given: accounts made under the NFKC + casefold rule, two of which read "alice"
    import sqlite3

    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    config = tortoise_config(f"sqlite://{tmp_path / 'old.sqlite3'}")
    await migrate(config=config, target="phonegate.0002_lookup_indexes")
    await Tortoise.close_connections()
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        for phone, name, key in [
            ("+14155550101", "Alice", "alice"),
            ("+14155550102", "al\u0131ce", "al\u0131ce"),
            ("+14155550103", "a1ice", "a1ice"),
            ("+14155550104", "bob", "bob"),
            ("+14155550105", "Mary", "mary"),
        ]:
            db.execute(
                "INSERT INTO users (phone, username, username_key, password_hash, is_verified,"
                " two_factor_enabled, session_version, created_at, updated_at)"
                " VALUES (?, ?, ?, 'x', 1, 0, 0, '2026-01-01', '2026-01-01')",
                (phone, name, key),
            )
    # when
    await migrate(config=config)
    await Tortoise.close_connections()
    # then: names take their skeleton key; look-alikes made before the rule keep theirs
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        keys = dict(db.execute("SELECT phone, username_key FROM users"))
    assert keys == {
        "+14155550101": "alice",
        "+14155550102": "al\u0131ce",
        "+14155550103": "a1ice",
        "+14155550104": "bob",
        "+14155550105": "rnary",  # the skeleton of "m" is "rn": "rnary" now finds Mary
    }


async def test_sessions_migration_dates_the_last_use_of_earlier_sessions_at_their_login(tmp_path):
    # given: a session made before 0007_sessions
    import sqlite3

    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    config = tortoise_config(f"sqlite://{tmp_path / 'old.sqlite3'}")
    await migrate(config=config, target="phonegate.0006_reach")
    await Tortoise.close_connections()
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        db.execute(
            "INSERT INTO users (phone, password_hash, is_verified, two_factor_enabled,"
            " session_version, created_at, updated_at)"
            " VALUES ('+14155550101', 'x', 1, 0, 0, '2026-01-01', '2026-01-01')"
        )
        db.execute(
            "INSERT INTO auth_sessions (id, user_id, created_at)"
            " VALUES ('0b8e1c2a-95a4-4c55-8d0e-3f7f3f0c1a11', 1, '2026-02-03 04:05:06+00:00')"
        )
    # when
    await migrate(config=config)
    await Tortoise.close_connections()
    # then
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        row = db.execute(
            "SELECT last_used_at, user_agent, ip_address FROM auth_sessions"
        ).fetchone()
    assert row == ("2026-02-03 04:05:06+00:00", None, None)

"""Usernames are unique by their UTS #39 confusable skeleton (issue 11, item 7).

`users.username_key` keeps its unique index; what it holds changes from NFKC + casefold to
the skeleton key (resolvers.usernames.uniqueness_key, copied below as it was when this
migration was written, so that a later change of the rule does not change what this
migration does, and models import nothing above them), so the database itself refuses a
second "alice" spelled with a dotless i or a Cyrillic a. Existing rows are re-keyed; a row
whose new key another row already holds (or held) keeps its old key: it was created before
the rule and still blocks its own spelling, and the unique index never fails.

Depends on 0003 (the pending signups and challenges).
"""

import unicodedata
from typing import Any

import icu
from tortoise import migrations
from tortoise.migrations import operations as ops

KEY_MAX_LENGTH = 128  # the column's width


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text.casefold())


def uniqueness_key(display: str) -> str:
    """The rule as of this migration: casefold, NFKC and skeleton until nothing changes;
    ValueError past the column's width."""
    spoof = icu.SpoofChecker()
    key = _folded(display)
    for _ in range(4):
        folded = _folded(spoof.getSkeleton(0, key))
        if folded == key:
            break
        key = folded
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError("key longer than the column")
    return key


async def rekey_usernames(apps: Any, schema_editor: Any) -> None:
    user_model = apps.get_model("phonegate", "User")
    db = schema_editor.client
    users = await user_model.all().using_db(db).order_by("id")
    olds = {u.username_key for u in users if u.username_key is not None}
    taken = {u.username_key for u in users if _key(uniqueness_key, u.username) == u.username_key}
    for user in users:
        key = _key(uniqueness_key, user.username)
        if user.username_key is None or key is None or key == user.username_key:
            key = user.username_key
        elif key in taken or key in olds:  # an older spelling holds it: keep the old key
            key = user.username_key
        taken.add(key)
        pending = _key(uniqueness_key, user.pending_username) or user.pending_username_key
        if (key, pending) != (user.username_key, user.pending_username_key):
            await user_model.filter(id=user.id).using_db(db).update(
                username_key=key, pending_username_key=pending
            )


def _key(rule: Any, display: str | None) -> str | None:
    if display is None:
        return None
    try:
        return str(rule(display))
    except Exception:  # refused by today's rule: the row keeps the key it was created with
        return None


class Migration(migrations.Migration):
    dependencies = [('phonegate', '0003_hardening')]

    initial = False

    operations = [
        ops.RunPython(rekey_usernames, ops.RunPython.noop),
    ]

"""Issue 13, sessions you can see and end: when each session was last used (login or
refresh), the User-Agent it logged in with and the client address of its last use.
The refresh grace needs no column: a successor token is derived from its predecessor
(resolvers/tokens.py), and the predecessor's used_at dates the rotation."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('phonegate', '0006_reach')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuthSession',
            name='ip_address',
            field=fields.CharField(null=True, max_length=45),
        ),
        ops.AddField(
            model_name='AuthSession',
            name='last_used_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='AuthSession',
            name='user_agent',
            field=fields.CharField(null=True, max_length=200),
        ),
        # Sessions from before: last used at their login, as far as anyone knows.
        ops.RunSQL(
            'UPDATE "auth_sessions" SET "last_used_at" = "created_at" WHERE "last_used_at" IS NULL',
            ops.RunSQL.noop,
        ),
    ]

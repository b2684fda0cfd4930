"""Issue 16, reach (the API): the locale a pending signup chose, for the account it makes;
and on each outbox message the code row whose challenge it answers, so that deliveryStatus
finds a challenge's latest message; on each code row the channel it was last asked for."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('phonegate', '0007_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='code_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['code_id']),
        ),
        ops.AddField(
            model_name='VerificationCode',
            name='channel',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='PendingSignup',
            name='locale',
            field=fields.CharField(null=True, max_length=35),
        ),
    ]

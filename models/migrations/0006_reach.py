"""Issue 16, reach: the channel of each outbox message (sms, voice, whatsapp) and the
locale of each account (BCP 47, "en" for the accounts that exist)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # The newest migration in the reach worktree; the lead re-chains it at merge.
    dependencies = [('phonegate', '0005_second_factors')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='channel',
            field=fields.CharField(default='sms', null=True, max_length=16),
        ),
        ops.AddField(
            model_name='User',
            name='locale',
            field=fields.CharField(default='en', null=True, max_length=35),
        ),
    ]

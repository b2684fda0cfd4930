from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('phonegate', '0001_initial')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='AuthSession',
            index=Index(fields=['user_id']),
        ),
        ops.AddIndex(
            model_name='MessageAttempt',
            index=Index(fields=['message_id']),
        ),
        ops.AddIndex(
            model_name='OutboxMessage',
            index=Index(fields=['phone', 'action']),
        ),
        ops.AddIndex(
            model_name='RefreshToken',
            index=Index(fields=['session_id']),
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['is_verified', 'created_at']),
        ),
        ops.AddIndex(
            model_name='VerificationCode',
            index=Index(fields=['user_id']),
        ),
    ]

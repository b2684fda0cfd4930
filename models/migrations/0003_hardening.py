from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('phonegate', '0002_lookup_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PendingSignup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(max_length=16)),
                ('username', fields.CharField(null=True, max_length=64)),
                ('username_key', fields.CharField(null=True, max_length=128)),
                ('password_hash', fields.CharField(max_length=255)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pending_signups', 'app': 'phonegate', 'indexes': [Index(fields=['phone']), Index(fields=['expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RemoveField(model_name='VerificationCode', name='payload'),
        ops.AddIndex(
            model_name='VerificationCode',
            index=Index(fields=['purpose', 'phone', 'sent_at']),
        ),
    ]

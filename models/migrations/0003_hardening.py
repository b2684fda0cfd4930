from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

class DropColumn(ops.RemoveField):
    """RemoveField without SQLite's table rebuild, which loses the table's indexes and
    unique constraints: ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL)."""

    async def database_forward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if not state_editor:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        sql = f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{self.name}"'
        await ops.RunSQL(sql)._run_sql(state_editor, sql)


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
        DropColumn(model_name='VerificationCode', name='payload'),  # unused since 0001
    ]

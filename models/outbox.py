"""Messages to send, written in the same transaction as the change that causes them.

States: queued -> sending -> sent -> delivered | undelivered | failed, or -> abandoned,
or suppressed (test numbers). The body is kept only until the message is final.
"""

from tortoise import fields
from tortoise.models import Model


class OutboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    action = fields.CharField(max_length=32)
    # How it goes (issue 16): "sms", "voice" (the body is TwiML) or "whatsapp".
    channel = fields.CharField(max_length=16, default="sms", null=True)  # null: "sms"
    phone = fields.CharField(max_length=16)
    # The verification code row whose challenge this message answers (a code, or a signup's
    # signup_existing notice): how deliveryStatus finds it (issue 16).
    code_id = fields.BigIntField(null=True)
    body = fields.TextField(null=True)
    state = fields.CharField(max_length=16, default="queued")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    claim_token = fields.CharField(max_length=32, null=True)
    # A code message past this moment is not sent late.
    send_before = fields.DatetimeField(null=True)
    provider_sid = fields.CharField(max_length=64, null=True, unique=True)
    last_error_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "outbox_messages"
        indexes = (
            ("state", "next_attempt_at"),  # the claim of due messages
            ("phone", "action"),  # a phone's queued messages of one kind (superseded codes)
            ("code_id",),  # the latest message of a challenge (deliveryStatus)
        )


class MessageAttempt(Model):
    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[OutboxMessage] = fields.ForeignKeyField(
        "phonegate.OutboxMessage", related_name="attempt_log", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField(auto_now_add=True)
    outcome = fields.CharField(max_length=16)
    error_code = fields.IntField(null=True)
    detail = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "message_attempts"
        indexes = (("message_id",),)  # a message's attempts (and its cascade delete)

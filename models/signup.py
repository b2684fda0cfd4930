"""A pending signup: one row per `signup` call, completed by its own challenge and code.

Every signup of a phone is its own row, so a later signup never changes an earlier one's
password or username. Nothing here is an account: the users table holds only proven phones,
and a pending signup reserves neither its phone nor its username (see resolvers/signup.py).
Rows exist for registered phones too (a signup never reveals whether a phone is taken) and
are deleted once past ``expires_at`` (at most UNVERIFIED_TTL_SECONDS after the signup).
"""

from tortoise import fields
from tortoise.models import Model


class PendingSignup(Model):
    id = fields.BigIntField(primary_key=True)
    phone = fields.CharField(max_length=16)
    username = fields.CharField(max_length=64, null=True)
    username_key = fields.CharField(max_length=128, null=True)
    password_hash = fields.CharField(max_length=255)
    # The account's locale once verified (issue 16), chosen at signup; null: "en".
    locale = fields.CharField(max_length=35, null=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pending_signups"
        indexes = (("phone",), ("expires_at",))

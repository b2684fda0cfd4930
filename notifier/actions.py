"""The action types of every message the server sends (README "SMS delivery and Twilio")."""

from enum import StrEnum


class Action(StrEnum):
    VERIFY_SIGNUP = "verify_signup"
    SIGNUP_VERIFIED = "signup_verified"
    SIGNUP_EXISTING = "signup_existing"
    LOGIN_CODE = "login_code"
    RESET_PASSWORD = "reset_password"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    IDENTITY_CHANGE = "identity_change"
    IDENTITY_CHANGE_REQUESTED = "identity_change_requested"  # to the old phone, no secret
    IDENTITY_CHANGED = "identity_changed"
    TWO_FACTOR_CHANGED = "two_factor_changed"
    ACCOUNT_DELETED = "account_deleted"
    # issue 14: second factors beyond SMS
    TOTP_CHANGED = "totp_changed"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"


CODE_ACTIONS = frozenset(
    {Action.VERIFY_SIGNUP, Action.LOGIN_CODE, Action.RESET_PASSWORD, Action.IDENTITY_CHANGE}
)

# SMS that the request causing them counted in the SMS budgets already
# (resolvers.guards.sms_budget): the codes, and signup_existing, which a signup of a
# registered phone sends instead of its code, so that neither the answer nor the budget
# shows whether the phone is registered. The outbox counts every other notice when it sends.
COUNTED_AT_REQUEST = CODE_ACTIONS | {Action.SIGNUP_EXISTING}

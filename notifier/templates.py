"""What each message says: one template per action type, overridable by a JSON file.

Placeholders: {app}, {code}, {minutes}. Code messages end with an optional WebOTP line
("@example.com #123456") so browsers can offer the code for autofill. Every default renders
within one GSM-7 SMS segment (160 characters).
"""

from __future__ import annotations

import json
from pathlib import Path

from notifier.actions import CODE_ACTIONS, Action

APP_NAME = "phonegate"
SEGMENT = 160

DEFAULTS: dict[Action, str] = {
    Action.VERIFY_SIGNUP: "Your {app} code is {code}. It expires in {minutes} min. "
    "Do not share it.",
    Action.SIGNUP_VERIFIED: "Your {app} account is ready. Welcome!",
    Action.SIGNUP_EXISTING: "Someone tried to sign up to {app} with this number. You already "
    "have an account: log in, or reset your password if you forgot it.",
    Action.LOGIN_CODE: "Your {app} login code is {code}. It expires in {minutes} min. "
    "Do not share it.",
    Action.RESET_PASSWORD: "Your {app} password reset code is {code}. It expires in {minutes} "
    "min. If you did not ask, ignore this.",
    Action.PASSWORD_RESET: "Your {app} password was reset and every session was logged out. "
    "If this was not you, reset it again now.",
    Action.PASSWORD_CHANGED: "Your {app} password was changed. If this was not you, reset "
    "your password now.",
    Action.IDENTITY_CHANGE: "Your {app} code to confirm the change of your phone or username "
    "is {code}. It expires in {minutes} min.",
    Action.IDENTITY_CHANGED: "The phone or username of your {app} account was changed. If "
    "this was not you, contact support.",
    Action.TWO_FACTOR_CHANGED: "Two-step login for your {app} account was turned {state}. If "
    "this was not you, reset your password.",
    Action.ACCOUNT_DELETED: "Your {app} account was deleted. Goodbye.",
}


class Templates:
    def __init__(self, path: str = "", webotp_domain: str = "") -> None:
        self.texts: dict[Action, str] = dict(DEFAULTS)
        if path:
            overrides = json.loads(Path(path).read_text(encoding="utf-8"))
            for name, text in overrides.items():
                self.texts[Action(name)] = str(text)
        self.webotp_domain = webotp_domain

    def render(self, action: Action, *, code: str = "", minutes: int = 0, **extra: str) -> str:
        text = self.texts[action].format(app=APP_NAME, code=code, minutes=minutes, **extra)
        if action in CODE_ACTIONS and self.webotp_domain:
            text = f"{text}\n\n@{self.webotp_domain} #{code}"
        return text

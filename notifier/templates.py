"""What each message says: one template per action type, overridable by a JSON file.

Placeholders: {app}, {code}, {minutes} (the code's lifetime), {state} (two-factor or
authenticator app on/off).
Code messages end with an optional WebOTP line ("@example.com #123456", WEBOTP_DOMAIN) so
browsers can offer the code for autofill. Every default renders within one SMS segment:
160 GSM-7 units (the extension characters count two), or 70 UTF-16 units otherwise.

SMS_TEMPLATES_FILE is a JSON object {"<action type>": "<template>", ...}; it is checked
when the server starts (unknown action types or placeholders, a code message without
{code}), so a bad file stops the start rather than a mutation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from notifier.actions import CODE_ACTIONS, Action

log = logging.getLogger("phonegate.templates")

APP_NAME = "phonegate"
GSM7_SEGMENT = 160
UCS2_SEGMENT = 70
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
LONGEST_CODE = "0123456789"  # VERIFICATION_CODE_LENGTH is at most 10

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
    Action.IDENTITY_CHANGE_REQUESTED: "Someone asked to change the phone or username of your "
    "{app} account. If this was not you, reset your password now.",
    Action.IDENTITY_CHANGED: "The phone or username of your {app} account was changed. If "
    "this was not you, contact support.",
    Action.TWO_FACTOR_CHANGED: "Two-step login for your {app} account was turned {state}. If "
    "this was not you, reset your password.",
    Action.ACCOUNT_DELETED: "Your {app} account was deleted. Goodbye.",
    Action.TOTP_CHANGED: "Authenticator app login for your {app} account was turned {state}. "
    "If this was not you, reset your password.",
    Action.RECOVERY_CODE_USED: "A recovery code was used for your {app} account. If this was "
    "not you, reset your password and make new codes.",
    Action.RECOVERY_CODES_REGENERATED: "New recovery codes were made for your {app} account; "
    "the old ones stopped working. If this was not you, reset your password.",
}


class TemplateError(ValueError):
    """A template override that cannot render, described in one line."""


def segment_use(text: str) -> tuple[int, int]:
    """(units used, units in one segment): GSM-7 if every character has a GSM-7 form."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text), GSM7_SEGMENT
    return len(text.encode("utf-16-le")) // 2, UCS2_SEGMENT


def fits_one_segment(text: str) -> bool:
    used, capacity = segment_use(text)
    return used <= capacity


class Templates:
    def __init__(self, path: str = "", webotp_domain: str = "") -> None:
        self.texts: dict[Action, str] = dict(DEFAULTS)
        self.webotp_domain = webotp_domain.strip().removeprefix("@")
        if path:
            self.texts.update(_load(path))
        for action in Action:
            self._check(action)

    def render(self, action: Action, *, code: str = "", minutes: int = 0, **extra: str) -> str:
        values = {"app": APP_NAME, "code": code, "minutes": minutes, "state": "", **extra}
        text = self.texts[action].format(**values)
        if action in CODE_ACTIONS and self.webotp_domain:
            text = f"{text}\n\n@{self.webotp_domain} #{code}"
        return text

    def _check(self, action: Action) -> None:
        template = self.texts[action]
        if action in CODE_ACTIONS and "{code}" not in template:
            raise TemplateError(f"SMS template {action.value!r} must contain {{code}}")
        try:
            text = self.render(action, code=LONGEST_CODE, minutes=10, state="off")
        except (KeyError, IndexError, ValueError) as e:
            raise TemplateError(f"SMS template {action.value!r} cannot render: {e!r}") from None
        if not fits_one_segment(text):
            used, capacity = segment_use(text)
            log.warning(
                "SMS template %r takes %d of %d units: more than one SMS segment",
                action.value,
                used,
                capacity,
            )


def _load(path: str) -> dict[Action, str]:
    try:
        overrides = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TemplateError(f"SMS_TEMPLATES_FILE={path!r}: {e}") from None
    if not isinstance(overrides, dict):
        raise TemplateError(f"SMS_TEMPLATES_FILE={path!r} must hold a JSON object")
    known = {a.value for a in Action}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TemplateError(f"SMS_TEMPLATES_FILE: unknown action types {unknown}")
    return {Action(name): str(text) for name, text in overrides.items()}

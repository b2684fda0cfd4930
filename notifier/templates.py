"""What each message says: one template per action type, overridable by a JSON file.

Placeholders: {app}, {code}, {minutes} (the code's lifetime), {state} (two-factor or
authenticator app on/off).
Code messages end with an optional WebOTP line ("@example.com #123456", WEBOTP_DOMAIN) so
browsers can offer the code for autofill. Every default renders within one SMS segment:
160 GSM-7 units (the extension characters count two), or 70 UTF-16 units otherwise.

Other languages (issue 16) are notifier/locales.py's; a message is rendered in the locale
asked for, else its base language ("pt-BR" -> "pt"), else English.

SMS_TEMPLATES_FILE is a JSON object {"<action type>": "<template>", ...} (English), whose
entries may also be languages {"<language>": {"<action type>": "<template>", ...}}, which
override or add a language (a new language must give every action type); it is checked
when the server starts (unknown action types or placeholders, a code message without
{code}), so a bad file stops the start rather than a mutation.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from notifier import locales
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
        self.languages: dict[str, dict[Action, str]] = {locales.DEFAULT_LOCALE: self.texts}
        for language, strings in locales.SMS.items():
            self.languages[language] = {
                Action(k): v for k, v in strings.items() if k in Action._value2member_map_
            }
        self.webotp_domain = webotp_domain.strip().removeprefix("@")
        if path:
            english, others = _load(path)
            self.texts.update(english)
            for language, texts in others.items():
                if language not in self.languages:
                    missing = sorted(a.value for a in set(Action) - set(texts))
                    if missing:
                        raise TemplateError(
                            f"SMS_TEMPLATES_FILE: new language {language!r} lacks {missing}"
                        )
                    self.languages[language] = {}
                self.languages[language].update(texts)
        for language in self.languages:
            for action in Action:
                self._check(action, language)

    @property
    def available(self) -> frozenset[str]:
        """The languages with texts (locales.choose_locale picks among them)."""
        return frozenset(self.languages)

    def text(self, action: Action, locale: str = locales.DEFAULT_LOCALE) -> str:
        texts = self.languages.get(locales.base_language(locale)) or self.texts
        return texts.get(action) or self.texts[action]

    def render(
        self,
        action: Action,
        *,
        code: str = "",
        minutes: int = 0,
        locale: str = locales.DEFAULT_LOCALE,
        **extra: str,
    ) -> str:
        return self._render(action, locale, code, minutes, extra, webotp=True)

    def _render(
        self,
        action: Action,
        locale: str,
        code: str,
        minutes: int,
        extra: dict[str, str],
        *,
        webotp: bool,
    ) -> str:
        language = locales.base_language(locale)
        if language not in self.languages:
            language = locales.DEFAULT_LOCALE
        state = extra.get("state", "")
        state = locales.STATES.get(language, {}).get(state, state)
        values = {"app": APP_NAME, "code": code, "minutes": minutes, **extra, "state": state}
        text = self.text(action, language).format(**values)
        if action in CODE_ACTIONS and self.webotp_domain and webotp:
            text = f"{text}\n\n@{self.webotp_domain} #{code}"
        return text

    def voice(
        self,
        action: Action,
        *,
        code: str = "",
        minutes: int = 0,
        locale: str = locales.DEFAULT_LOCALE,
        **extra: str,
    ) -> str:
        """TwiML for a call: a code is read digit by digit, twice, with pauses; a notice is
        its SMS text, spoken. In the locale's language, slow enough to write down."""
        language = locales.base_language(locale)
        if language not in locales.VOICE_WORDS:
            language = locales.DEFAULT_LOCALE
        lang = quoteattr(locales.say_language(locale if language != "en" else "en"))

        def say(text: str) -> str:
            return f"<Say language={lang}>{escape(text)}</Say>"

        if action not in CODE_ACTIONS:
            spoken = self._render(action, language, code, minutes, extra, webotp=False)
            return f'<?xml version="1.0" encoding="UTF-8"?><Response>{say(spoken)}</Response>'
        intro = locales.VOICE_INTRO[language][action.value].format(app=APP_NAME)
        words = locales.VOICE_WORDS[language]
        digits = ", ".join(code) + "."
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?><Response>',
            '<Pause length="1"/>',
            say(intro),
            '<Pause length="1"/>',
            say(digits),
            '<Pause length="2"/>',
            say(words["again"]),
            '<Pause length="1"/>',
            say(digits),
            '<Pause length="1"/>',
            say(words["bye"]),
            "</Response>",
        ]
        return "".join(parts)

    def _check(self, action: Action, language: str = locales.DEFAULT_LOCALE) -> None:
        template = self.text(action, language)
        if action in CODE_ACTIONS and "{code}" not in template:
            raise TemplateError(f"SMS template {action.value!r} ({language}) must contain {{code}}")
        try:
            text = self.render(action, code=LONGEST_CODE, minutes=10, state="off", locale=language)
        except (KeyError, IndexError, ValueError) as e:
            raise TemplateError(
                f"SMS template {action.value!r} ({language}) cannot render: {e!r}"
            ) from None
        if not fits_one_segment(text):
            used, capacity = segment_use(text)
            log.warning(
                "SMS template %r (%s) takes %d of %d units: more than one SMS segment",
                action.value,
                language,
                used,
                capacity,
            )


def _load(path: str) -> tuple[dict[Action, str], dict[str, dict[Action, str]]]:
    try:
        overrides = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TemplateError(f"SMS_TEMPLATES_FILE={path!r}: {e}") from None
    if not isinstance(overrides, dict):
        raise TemplateError(f"SMS_TEMPLATES_FILE={path!r} must hold a JSON object")
    languages = {k: v for k, v in overrides.items() if isinstance(v, dict)}
    english = {k: v for k, v in overrides.items() if not isinstance(v, dict)}
    for language in languages:
        if language != locales.base_language(language) or not language.isalpha():
            raise TemplateError(f"SMS_TEMPLATES_FILE: {language!r} is not a language code")
    return _actions(english), {k: _actions(v) for k, v in languages.items()}


def _actions(texts: dict[str, object]) -> dict[Action, str]:
    known = {a.value for a in Action}
    unknown = sorted(set(texts) - known)
    if unknown:
        raise TemplateError(f"SMS_TEMPLATES_FILE: unknown action types {unknown}")
    return {Action(name): str(text) for name, text in texts.items()}

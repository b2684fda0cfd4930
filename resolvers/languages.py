"""The locale of an account (issue 16): chosen once at signup, then used for every message
to the account.

At signup: the ``locale`` given, else Accept-Language, else the phone's country, else
English (notifier.locales.choose_locale), among the languages that have texts. A ``locale``
that is no BCP 47 tag at all ("12", "en_US!", 40 characters) is InvalidInput on "locale": a
client bug to fix. A well-formed tag for a language without texts ("ja-JP") falls back
along the same chain instead of refusing: a client may pass the device's locale as it is,
and a language we lack must not stop anybody from signing up.
"""

from __future__ import annotations

import re

from models import User
from notifier.locales import DEFAULT_LOCALE as DEFAULT_LOCALE
from notifier.locales import choose_locale
from resolvers.deps import Client, Deps
from resolvers.errors import InputRejected

TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
TAG_MAX = 35  # the column's width; BCP 47 recommends supporting 35


def signup_locale(deps: Deps, client: Client, explicit: str | None, phone: str) -> str:
    """The locale a new account will have; InputRejected on "locale" for a malformed tag."""
    if explicit is not None and explicit.strip():
        tag = explicit.strip()
        if len(tag) > TAG_MAX or not TAG.fullmatch(tag):
            raise InputRejected("locale", 'Give a language tag such as "es" or "pt-BR".')
    available = deps.outbox.templates.available
    return choose_locale(explicit, client.accept_language, phone, available)


def of(user: User) -> str:
    """The account's locale (accounts made before issue 16 hold null: English)."""
    return user.locale or DEFAULT_LOCALE

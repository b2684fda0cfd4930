"""How a phone number is shown where it must not be read whole: answers and logs."""

from __future__ import annotations

import phonenumbers


def mask_phone(e164: str) -> str:
    """ "+14155550123" -> "+1******0123": country code and last four digits."""
    try:
        cc = str(phonenumbers.parse(e164).country_code)
    except phonenumbers.NumberParseException:
        cc = ""
    digits = e164.lstrip("+")
    hidden = max(len(digits) - len(cc) - 4, 0)
    return f"+{cc}{'*' * hidden}{digits[len(cc) + hidden :]}"

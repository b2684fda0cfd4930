"""Phone numbers: any common spelling in, E.164 out, or InputRejected on "phone"."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType as T

from resolvers.errors import InputRejected

MAX_RAW_LENGTH = 40
# Twilio's magic test numbers (+1 500 555 xxxx) are valid phones by contract.
TWILIO_MAGIC = re.compile(r"^\+1500555\d{4}$")
SMS_CAPABLE = frozenset({T.MOBILE, T.FIXED_LINE_OR_MOBILE})
REFUSED_TYPES_TEXT = "premium-rate, shared-cost, toll-free, VoIP, pager or landline"
INTERNATIONAL_NETWORKS = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY  # "001"


def normalize_phone(
    raw: str,
    *,
    allowed_countries: frozenset[str] = frozenset(),
    default_region: str = "US",
    test_numbers: bool = True,
) -> str:
    """E.164 of a number that can receive SMS, or InputRejected(field="phone").
    ``test_numbers``: Twilio's magic numbers are phones (False in production)."""
    if not raw or len(raw) > MAX_RAW_LENGTH:
        raise InputRejected("phone", "Enter a mobile phone number, e.g. +14155550123.")
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InputRejected("phone", "That is not a phone number.") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    magic = test_numbers and bool(TWILIO_MAGIC.match(e164))
    if not magic and not phonenumbers.is_valid_number(number):
        raise InputRejected("phone", "That is not a valid phone number.")
    if not magic and phonenumbers.number_type(number) not in SMS_CAPABLE:
        raise InputRejected("phone", f"That number cannot receive SMS ({REFUSED_TYPES_TEXT}).")
    region = "US" if magic else phonenumbers.region_code_for_number(number)
    if allowed_countries and region not in allowed_countries:
        raise InputRejected("phone", "SMS cannot be sent to that country.")
    if region == INTERNATIONAL_NETWORKS and region not in allowed_countries:
        raise InputRejected("phone", "SMS cannot be sent to satellite or international networks.")
    return e164


def phone_prefix(e164: str, keep_last: int = 3) -> str:
    """The block a number belongs to, for holding back bursts to neighbouring numbers."""
    return e164[:-keep_last]

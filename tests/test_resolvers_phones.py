"""Phones: every spelling of a number is one E.164; numbers that are no one's mobile, and
countries outside SMS_ALLOWED_COUNTRIES, are refused on the "phone" field."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType as T

from core.masking import mask_phone
from resolvers.errors import InputRejected
from resolvers.phones import normalize_phone, phone_prefix

E164 = "+14155550123"


def refusal(raw: str, allowed: str = "") -> str:
    with pytest.raises(InputRejected) as refused:
        normalize_phone(raw, allowed_countries=frozenset(allowed.split(",")) - {""})
    assert refused.value.field == "phone"
    return refused.value.text


def example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None and phonenumbers.number_type(number) == kind
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    "spelling",
    [
        "+14155550123",
        "+1 415 555 0123",
        "(415) 555-0123",
        "415.555.0123",
        "1-415-555-0123",
        "４１５５５５０１２３",  # full-width digits
        "＋１ ４１５ ５５５ ０１２３",
        " +1 (415) 555-0123 ",
        "011 1 415 555 0123",  # the US international prefix
    ],
)
def test_every_spelling_of_a_number_is_one_e164(spelling):
    assert normalize_phone(spelling) == E164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter a mobile"),
        ("1" * 41, "Enter a mobile"),
        ("+1 415 555 0123" + " " * 40, "Enter a mobile"),
        ("not a phone", "not a phone number"),
        ("+1 415 555", "not a valid"),
        ("+999 1234567", "not a"),
        ("+1415555\x000123", "not a"),
        ("+1 415 555 0123 ext. 9; DROP TABLE users", "not a"),
    ],
)
def test_invalid_and_over_long_numbers_are_refused(raw, reason):
    assert reason in refusal(raw)


@pytest.mark.parametrize(
    ("region", "kind"),
    [
        ("US", T.PREMIUM_RATE),
        ("FR", T.SHARED_COST),
        ("US", T.TOLL_FREE),
        ("GB", T.VOIP),
        ("GB", T.PAGER),
        ("US", T.PERSONAL_NUMBER),
        ("GB", T.UAN),
        ("GB", T.FIXED_LINE),
        ("DE", T.VOICEMAIL),
    ],
    ids=[
        "premium",
        "shared-cost",
        "toll-free",
        "voip",
        "pager",
        "personal",
        "uan",
        "landline",
        "voicemail",
    ],
)
def test_numbers_that_are_no_ones_mobile_are_refused(region, kind):
    assert "cannot receive SMS" in refusal(example(region, kind))


def test_mobiles_of_any_country_are_accepted_by_default():
    for region in ("GB", "FR", "DE", "IN", "BR", "JP"):
        mobile = example(region, T.MOBILE)
        assert normalize_phone(mobile) == mobile


def test_sms_allowed_countries_refuses_the_others_even_sharing_a_country_code():
    allowed = "US,GB"
    assert normalize_phone(E164, allowed_countries=frozenset({"US", "GB"})) == E164
    assert "country" in refusal(example("FR", T.MOBILE), allowed)
    assert "country" in refusal("+1 506 234 5678", allowed)  # Canada, +1 like the US
    assert "country" in refusal("+1 876 210 1234", allowed)  # Jamaica, +1 as well


def test_twilio_magic_numbers_are_phones_but_obey_the_allowlist():
    assert normalize_phone("+15005550006") == "+15005550006"
    assert normalize_phone("+1 500 555 0009", allowed_countries=frozenset({"US"}))
    assert "country" in refusal("+15005550006", "GB")


def test_a_number_is_masked_to_its_country_code_and_last_four_digits():
    assert mask_phone(E164) == "+1******0123"
    assert mask_phone("+447400123456") == "+44******3456"


def test_neighbouring_numbers_share_a_block_and_others_do_not():
    assert phone_prefix("+14155550123") == phone_prefix("+14155550999") == "+14155550"
    assert phone_prefix("+14155551000") != phone_prefix("+14155550999")

"""The attacker's suite, destinations (issue 11, item 8): Twilio's magic test numbers are no
phones in production (free, never-verifiable squatting of usernames), and satellite or
international-network numbers (+870, +881, +882, +883) get no SMS unless
SMS_ALLOWED_COUNTRIES lists "001"."""

from __future__ import annotations

import pytest

from tests import documents as d
from tests.support import STRONG_PASSWORD, RecordingSender, new_phone

MAGIC = "+15005550006"
SATELLITE = ["+881612345678", "+870773111632", "+8823421234"]
PRODUCTION = {
    "APP_ENV": "production",
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-token",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


async def signup(api, phone, username=None):
    variables = {"input": {"phone": phone, "password": STRONG_PASSWORD, "username": username}}
    return await api.run(d.SIGNUP, variables)


async def test_a_magic_test_number_is_no_phone_in_production(make_settings, start_app):
    sender = RecordingSender()
    async with start_app(make_settings(**PRODUCTION), sender=sender) as api:
        # when
        answer = await signup(api, MAGIC, username="squatter")
        reset = await api.run(d.REQUEST_RESET, {"phone": MAGIC})
    # then
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "phone"
    assert reset["__typename"] == "InvalidInput" and reset["field"] == "phone"
    assert sender.to(MAGIC) == []


async def test_a_magic_test_number_is_a_phone_outside_production(api):
    answer = await signup(api, "+15005550077")
    assert answer["__typename"] == "VerificationSent"


@pytest.mark.parametrize("phone", SATELLITE)
async def test_satellite_numbers_get_no_sms_with_the_default_countries(api, phone):
    # when
    answer = await signup(api, phone)
    # then
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "phone"
    assert api.sms.to(phone) == []


async def test_satellite_numbers_are_refused_beside_a_list_of_countries(make_settings, start_app):
    async with start_app(make_settings(SMS_ALLOWED_COUNTRIES="US,GB")) as api:
        answer = await signup(api, SATELLITE[0])
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "phone"


async def test_satellite_numbers_are_served_when_001_is_allowed(make_settings, start_app):
    async with start_app(make_settings(SMS_ALLOWED_COUNTRIES="US,001")) as api:
        # when
        answer = await signup(api, SATELLITE[0])
        us = await signup(api, new_phone())
        # then
        assert answer["__typename"] == us["__typename"] == "VerificationSent"
        await api.sms.wait(SATELLITE[0], "verify_signup")

"""Message templates: one per action type, each within one SMS segment, overridable by a
JSON file checked at start, with an optional WebOTP line on code messages."""

from __future__ import annotations

import json

import pytest

from notifier.actions import CODE_ACTIONS, Action
from notifier.templates import DEFAULTS, TemplateError, Templates, fits_one_segment, segment_use
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone

LONGEST_CODE = "9" * 10  # VERIFICATION_CODE_LENGTH is at most 10
LONG_DOMAIN = "accounts.phonegate-example.com"


def test_every_action_type_has_a_default_template():
    assert set(DEFAULTS) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
@pytest.mark.parametrize("webotp", ["", LONG_DOMAIN])
def test_every_default_renders_within_one_sms_segment(action, webotp):
    # given: the longest code, a three-digit lifetime, a long WebOTP domain
    templates = Templates(webotp_domain=webotp)
    # when
    text = templates.render(action, code=LONGEST_CODE, minutes=999, state="off")
    # then
    used, capacity = segment_use(text)
    assert capacity == 160, f"{action.value} is not GSM-7: {text!r}"
    assert used <= capacity, f"{action.value} takes {used} units: {text!r}"
    assert "{" not in text and "}" not in text  # every placeholder filled


@pytest.mark.parametrize("action", sorted(CODE_ACTIONS), ids=lambda a: a.value)
def test_code_messages_carry_the_code_and_its_lifetime(action):
    text = Templates().render(action, code="042917", minutes=10)
    assert "042917" in text and "10 min" in text


def test_notices_carry_no_code():
    for action in set(Action) - CODE_ACTIONS:
        assert "123456" not in Templates().render(action, code="123456", minutes=10, state="on")


def test_the_webotp_line_ends_code_messages_only():
    templates = Templates(webotp_domain="example.com")
    code_text = templates.render(Action.VERIFY_SIGNUP, code="123456", minutes=10)
    notice = templates.render(Action.PASSWORD_CHANGED)
    assert code_text.splitlines()[-1] == "@example.com #123456"
    assert "@example.com" not in notice


def test_segment_use_counts_gsm7_extension_characters_twice_and_other_text_as_ucs2():
    assert segment_use("a" * 160) == (160, 160)
    assert segment_use("€" * 80) == (160, 160)
    assert not fits_one_segment("€" * 81)
    assert segment_use("код 123456") == (10, 70)
    assert segment_use("🔑") == (2, 70)  # one emoji is two UTF-16 units
    assert not fits_one_segment("ж" * 71)


def test_a_templates_file_overrides_some_texts_and_keeps_the_rest(tmp_path):
    # given
    path = tmp_path / "sms.json"
    path.write_text(json.dumps({"verify_signup": "Code {app}: {code} ({minutes} min)"}))
    # when
    templates = Templates(str(path))
    # then
    assert templates.render(Action.VERIFY_SIGNUP, code="123456", minutes=5) == (
        "Code phonegate: 123456 (5 min)"
    )
    assert templates.texts[Action.ACCOUNT_DELETED] == DEFAULTS[Action.ACCOUNT_DELETED]


@pytest.mark.parametrize(
    "overrides",
    [
        {"verify_signup": "Your code is {cod}"},
        {"verify_signup": "Your code is {code"},
        {"verify_signup": "Welcome, no code here"},
        {"not_an_action": "hi"},
        ["verify_signup"],
    ],
)
def test_a_bad_templates_file_stops_the_start(tmp_path, overrides):
    path = tmp_path / "sms.json"
    path.write_text(json.dumps(overrides))
    with pytest.raises(TemplateError):
        Templates(str(path))


def test_a_missing_templates_file_stops_the_start(tmp_path):
    with pytest.raises(TemplateError):
        Templates(str(tmp_path / "missing.json"))


async def test_the_app_sends_the_configured_template(make_settings, start_app, tmp_path):
    # given
    path = tmp_path / "sms.json"
    path.write_text(json.dumps({"verify_signup": "{code} is your code ({minutes} min)"}))
    settings = make_settings(SMS_TEMPLATES_FILE=str(path), WEBOTP_DOMAIN="example.com")
    phone = new_phone()
    async with start_app(settings) as api:
        # when
        await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        message = await api.sms.wait(phone, "verify_signup")
    # then
    code = message.body[:6]
    assert message.body == f"{code} is your code (10 min)\n\n@example.com #{code}"

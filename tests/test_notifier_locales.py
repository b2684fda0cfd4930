"""Messages in the reader's language (issue 16): every action type in every language, SMS
and voice, each SMS within one segment, languages added by SMS_TEMPLATES_FILE, and the
choice of a locale (explicit, Accept-Language, the phone's country, English)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from notifier import locales
from notifier.actions import CODE_ACTIONS, Action
from notifier.locales import choose_locale
from notifier.templates import DEFAULTS, TemplateError, Templates, segment_use

LONGEST_CODE = "9" * 10
LONG_DOMAIN = "accounts.phonegate-example.com"
OTHER_LANGUAGES = [lang for lang in locales.LANGUAGES if lang != "en"]


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_action_type_has_an_sms_text_in_every_language(language):
    assert {a.value for a in Action} <= set(locales.SMS[language])


@pytest.mark.parametrize("language", locales.LANGUAGES)
def test_every_code_action_type_has_voice_words_in_every_language(language):
    assert {a.value for a in CODE_ACTIONS} <= set(locales.VOICE_INTRO[language])
    assert set(locales.VOICE_WORDS[language]) == {"again", "bye"}
    assert set(locales.STATES[language]) == {"on", "off"}


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_a_translated_text_is_its_own_and_carries_the_same_placeholders(language, action):
    text = locales.SMS[language][action.value]
    assert text != DEFAULTS[action]
    for placeholder in ("{code}", "{minutes}", "{state}"):
        assert (placeholder in text) == (placeholder in DEFAULTS[action]), placeholder


@pytest.mark.parametrize("language", locales.LANGUAGES)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
@pytest.mark.parametrize("webotp", ["", LONG_DOMAIN])
def test_every_sms_in_every_language_fits_one_segment_in_its_encoding(language, action, webotp):
    # given: the longest code, a three-digit lifetime, a long WebOTP domain
    templates = Templates(webotp_domain=webotp)
    # when
    text = templates.render(action, code=LONGEST_CODE, minutes=999, state="off", locale=language)
    # then
    used, capacity = segment_use(text)
    assert used <= capacity, f"{language} {action.value} takes {used}/{capacity}: {text!r}"
    assert "{" not in text and "}" not in text
    if action in CODE_ACTIONS:
        assert LONGEST_CODE in text and "999" in text


def test_a_message_is_rendered_in_the_locale_asked_for_and_its_base_language():
    templates = Templates()
    spanish = templates.render(Action.LOGIN_CODE, code="424242", minutes=10, locale="es")
    brazilian = templates.render(Action.LOGIN_CODE, code="424242", minutes=10, locale="pt-BR")
    unknown = templates.render(Action.LOGIN_CODE, code="424242", minutes=10, locale="ja")
    assert (
        spanish
        == "Usa 424242 para entrar en phonegate. Caduca en 10 min. No lo compartas con nadie."
    )
    assert brazilian.startswith("Use 424242 para entrar no phonegate.")
    assert unknown.startswith("Your phonegate login code is 424242.")


def test_the_two_factor_state_is_said_in_the_message_language():
    text = Templates().render(Action.TWO_FACTOR_CHANGED, state="on", locale="de")
    assert "jetzt aktiviert" in text


@pytest.mark.parametrize("language", locales.LANGUAGES)
@pytest.mark.parametrize("action", sorted(CODE_ACTIONS), ids=lambda a: a.value)
def test_a_voice_call_reads_the_code_digit_by_digit_twice_in_the_language(language, action):
    # when
    twiml = Templates().voice(action, code="042917", minutes=10, locale=language)
    # then: valid TwiML, every <Say> in the language, the digits apart, twice, with pauses
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    says = root.findall("Say")
    assert {s.get("language") for s in says} == {locales.say_language(language)}
    spoken = [s.text or "" for s in says]
    assert spoken.count("0, 4, 2, 9, 1, 7.") == 2
    assert "042917" not in twiml  # never read as "forty-two thousand ..."
    assert len(root.findall("Pause")) >= 3
    assert locales.VOICE_WORDS[language]["again"] in spoken


def test_a_voice_notice_speaks_its_sms_text_without_the_webotp_line():
    twiml = Templates(webotp_domain="example.com").voice(Action.PASSWORD_CHANGED, locale="fr")
    root = ET.fromstring(twiml)
    (say,) = root.findall("Say")
    assert say.get("language") == "fr-FR"
    assert say.text == Templates().render(Action.PASSWORD_CHANGED, locale="fr")


def test_a_templates_file_adds_a_language_that_the_locale_choice_then_offers(tmp_path):
    # given: Italian for every action type, and one Spanish text changed
    italian = {a.value: f"[it] {a.value} {{app}}" for a in Action}
    for action in CODE_ACTIONS:
        italian[action.value] = "Il tuo codice {app} è {code}. Scade tra {minutes} min."
    path = tmp_path / "sms.json"
    path.write_text(json.dumps({"it": italian, "es": {"account_deleted": "Adiós, {app}."}}))
    # when
    templates = Templates(str(path))
    # then
    assert "it" in templates.available
    assert choose_locale(None, "it-IT, en;q=0.5", None, templates.available) == "it-IT"
    assert choose_locale(None, "it-IT, en;q=0.5", None) == "en"  # without the file
    assert templates.render(Action.LOGIN_CODE, code="123456", minutes=5, locale="it-IT") == (
        "Il tuo codice phonegate è 123456. Scade tra 5 min."
    )
    assert templates.render(Action.ACCOUNT_DELETED, locale="es") == "Adiós, phonegate."
    assert templates.render(Action.SIGNUP_VERIFIED, locale="es") == Templates().render(
        Action.SIGNUP_VERIFIED, locale="es"
    )


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"it": {"login_code": "Codice {code}"}}, "lacks"),
        ({"es": {"login_code": "sin código"}}, "{code}"),
        ({"es": {"no_such_action": "x"}}, "unknown action types"),
        ({"es-MX": {"login_code": "{code}"}}, "not a language code"),
    ],
)
def test_a_templates_file_with_a_bad_language_stops_the_start(tmp_path, overrides, complaint):
    path = tmp_path / "sms.json"
    path.write_text(json.dumps(overrides))
    with pytest.raises(TemplateError, match=complaint.replace("{", r"\{").replace("}", r"\}")):
        Templates(str(path))


@pytest.mark.parametrize(
    ("explicit", "header", "phone", "expected"),
    [
        ("es", "de", "+33612345678", "es"),  # explicit first
        ("pt-br", None, None, "pt-BR"),  # canonical case
        ("ja", "fr-CH, fr;q=0.9, en;q=0.8", None, "fr-CH"),  # unknown explicit: header
        (None, "ja, de;q=0.4, es;q=0.7", None, "es"),  # by weight, unsupported skipped
        (None, "de;q=0, fr;q=0.1", None, "fr"),  # q=0 means "not this"
        (None, "ja", "+5511987654321", "pt-BR"),  # Brazil
        (None, None, "+34612345678", "es"),  # Spain
        (None, None, "+4915112345678", "de"),  # Germany
        (None, None, "+33612345678", "fr"),  # France
        (None, None, "+351912345678", "pt"),  # Portugal
        (None, None, "+41791234567", "en"),  # Switzerland: several languages, English
        (None, None, "+12025550123", "en"),
        (None, None, "not a phone", "en"),
        (None, "*", None, "en"),
        ("", "", "", "en"),
    ],
)
def test_the_locale_is_explicit_else_accept_language_else_the_phone_country_else_english(
    explicit, header, phone, expected
):
    assert choose_locale(explicit, header, phone) == expected

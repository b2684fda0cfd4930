"""Error and result messages in the reader's language (issue 16): Accept-Language picks among
en, es, fr, de and pt; the type names and fields stay the same."""

from __future__ import annotations

import pytest

from resolvers import errors
from resolvers.messages import LANGUAGES, MESSAGES, language_of, translate
from tests import documents as d
from tests.support import new_phone


def every_domain_error() -> list[type[errors.DomainError]]:
    found, todo = [], [errors.DomainError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("english", sorted(MESSAGES))
def test_every_message_has_every_language_and_keeps_its_numbers(english):
    texts = MESSAGES[english]
    assert set(texts) == set(LANGUAGES)
    for language, text in texts.items():
        assert text and text != english, language
        for n in ("{0}", "{1}"):
            assert (n in text) == (n in english), (language, n)


def test_every_fixed_message_of_a_flow_is_in_the_table():
    fixed = {cls.message for cls in every_domain_error() if "message" in vars(cls)}
    assert fixed <= set(MESSAGES), fixed - set(MESSAGES)


@pytest.mark.parametrize(
    ("header", "language"),
    [("es-MX,es;q=0.9,en;q=0.8", "es"), ("ja, de;q=0.5", "de"), ("ja", "en"), (None, "en"),
     ("fr-CA", "fr"), ("pt-BR", "pt"), ("en-GB, fr;q=0.9", "en")],
)  # fmt: skip
def test_the_first_accept_language_with_texts_is_used(header, language):
    assert language_of(header) == language


def test_a_message_with_numbers_is_translated_with_its_numbers():
    assert translate("A code is 6 digits.", "fr") == "Un code compte 6 chiffres."
    assert translate("Use 3 to 32 characters.", "pt") == "Use de 3 a 32 caracteres."
    assert translate("not in the table", "de") == "not in the table"


async def test_a_refusal_reads_in_the_language_asked_for_with_the_same_type_and_field(api):
    # given: a malformed code, and a wrong one, asked in Spanish, German and without a header
    malformed = {"input": {"phone": new_phone(), "challenge": "c", "code": "12"}}
    wrong = {"input": {"phone": new_phone(), "challenge": "c" * 43, "code": "123456"}}
    # when
    answers = {
        lang: (
            await api.run(d.VERIFY_PHONE, malformed, headers={"Accept-Language": lang}),
            await api.run(d.VERIFY_PHONE, wrong, headers={"Accept-Language": lang}),
        )
        for lang in ("es-ES", "de", "ja")
    }
    # then
    spanish, german, english = answers["es-ES"], answers["de"], answers["ja"]
    assert spanish[0]["__typename"] == german[0]["__typename"] == "InvalidInput"
    assert spanish[0]["field"] == german[0]["field"] == english[0]["field"] == "code"
    assert spanish[0]["message"] == "Un código tiene 6 dígitos."
    assert german[1] == {**english[1], "message": "Dieser Code stimmt nicht."}
    assert english[1]["message"] == "That code is not right."

"""What reaches the log when a request goes wrong: never the request's text."""

from __future__ import annotations

import logging

from tests.support import new_phone

SECRET = "inline-secret-password-42"


async def test_a_refused_document_with_an_inline_password_is_not_logged(api, caplog):
    caplog.set_level(logging.DEBUG, logger="strawberry")
    caplog.set_level(logging.INFO)
    # given a document that spells the password inline, with a mistake in it
    document = (
        f'mutation {{ login(input: {{identifier: "{new_phone()}", password: "{SECRET}", '
        "nope: 1}) { __typename } }"
    )
    broken = f'mutation {{ login(input: {{password: "{SECRET}" }} {{'
    # when
    for query in (document, broken):
        response = await api.http.post("/graphql", json={"query": query})
        assert response.status_code in (200, 400)
        assert response.json()["errors"]
    # then
    assert SECRET not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

"""Attacks on the GraphQL endpoint itself: document shape, transport, and what errors say.

Each test sends what an attacker would and asserts what comes back: a refusal (400, 413 or
a GraphQL error before any resolver runs), no SMS, no internals, and a server that keeps
answering.
"""

from __future__ import annotations

import json
import time

import pytest

from models import VerificationCode
from resolvers import reset
from tests import documents as d
from tests.support import STRONG_PASSWORD, RecordingSender, new_phone
from tests.test_security_support import (
    aliased,
    graphql,
    post_json,
    post_raw,
    sms_queued,
    still_answers,
)

PRODUCTION = {
    "APP_ENV": "production",
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-token",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


def reset_field(phone: str) -> str:
    return f'requestReset(phone: "{phone}") {{ __typename }}'


def fragment_bomb(levels: int) -> str:
    """Fragments that each spread the next twice: 2**levels aliased fields when expanded."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {chain} fragment F{levels} on Query {{ a: __typename }}"


@pytest.fixture
async def production_api(make_settings, start_app):
    async with start_app(make_settings(**PRODUCTION), sender=RecordingSender()) as api:
        yield api


# --- document shape ---------------------------------------------------------------------


async def test_a_hundred_aliased_guesses_are_refused_before_any_is_counted(api):
    # given a signup whose code the attacker does not know
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    challenge = sent["challenge"]
    code = await api.sms.code(phone, "verify_signup")
    # (each guess's input in a variable: the document stays under the token limit)
    guesses = " ".join(f"g{i}: verifyPhone(input: $i{i}) {{ __typename }}" for i in range(100))
    definitions = ", ".join(f"$i{i}: VerifyPhoneInput!" for i in range(100))
    document = f"mutation ({definitions}) {{ {guesses} }}"
    inputs = {
        f"i{i}": {"phone": phone, "challenge": challenge, "code": f"{i:06d}"} for i in range(100)
    }
    # when
    answer = await graphql(api, document, inputs)
    # then no guess ran, and the owner's code still works
    assert "data" not in answer
    assert "100 aliases found" in answer["errors"][0]["message"]
    row = await VerificationCode.get(purpose="signup", phone=phone, challenge_hash__isnull=False)
    assert row.attempts == 0
    verify = {"phone": phone, "challenge": challenge, "code": code}
    session = await api.run(d.VERIFY_PHONE, {"input": verify})
    assert session["__typename"] == "Session"


async def test_two_thousand_aliases_are_refused_quickly_and_nothing_is_sent(api):
    phone = new_phone()
    started = time.perf_counter()
    answer = await graphql(api, aliased(reset_field(phone), 2000))
    assert "data" not in answer and answer["errors"]
    assert time.perf_counter() - started < 1.0
    assert await sms_queued(phone) == 0
    await still_answers(api)


async def test_sixteen_aliases_of_a_sending_mutation_send_nothing(api):
    phone = new_phone()
    answer = await graphql(api, aliased(reset_field(phone), 16))
    assert "data" not in answer and "16 aliases found" in answer["errors"][0]["message"]
    assert await sms_queued(phone) == 0


async def test_aliases_in_a_fragment_count_at_every_spread(api):
    phone = new_phone()
    eight = " ".join(f"r{i}: {reset_field(phone)}" for i in range(8))
    document = (
        f"mutation {{ ...F ... on Mutation {{ ...F }} }} fragment F on Mutation {{ {eight} }}"
    )
    answer = await graphql(api, document)
    assert "data" not in answer and "16 aliases found" in answer["errors"][0]["message"]
    assert await sms_queued(phone) == 0


async def test_an_exponential_fragment_bomb_is_refused_in_linear_time(api):
    # given 30 levels: 2**30 aliased fields once expanded, about 1.3 KB of text
    document = fragment_bomb(30)
    # when
    started = time.perf_counter()
    answer = await graphql(api, document)
    elapsed = time.perf_counter() - started
    # then
    assert "data" not in answer
    assert f"{2**30} aliases found" in answer["errors"][0]["message"]
    assert elapsed < 0.5, elapsed
    await still_answers(api)


async def test_a_deep_document_is_refused_before_any_resolver(api):
    # given a sending mutation next to a selection nested past the limit
    phone = new_phone()
    deep = "message " + "{ a " * 9 + "}" * 9
    document = (
        f'mutation {{ requestReset(phone: "{phone}") {{ __typename }} '
        f"logout {{ ... on LoggedOut {{ {deep} }} }} }}"
    )
    # when
    answer = await graphql(api, document)
    # then
    assert "data" not in answer
    assert any("exceeds maximum operation depth of 8" in e["message"] for e in answer["errors"])
    assert await sms_queued(phone) == 0


async def test_depth_counts_through_fragments(api):
    legal = "{ me { ...X } } fragment X on User { id }"
    deep = "{ me { ...X } } fragment X on User { id " + "{ a " * 9 + "}" * 9 + " }"
    assert (await graphql(api, legal))["data"] == {"me": None}
    answer = await graphql(api, deep)
    assert any("exceeds maximum operation depth" in e["message"] for e in answer["errors"])


async def test_circular_fragments_are_refused(api):
    document = "query { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }"
    answer = await graphql(api, document)
    assert "data" not in answer
    assert "Cannot spread fragment 'A' within itself" in answer["errors"][0]["message"]
    await still_answers(api)


async def test_two_thousand_duplicate_fields_are_refused_by_the_token_limit(api):
    answer = await graphql(api, "{ me { " + "id " * 2000 + "} }")
    assert "data" not in answer
    assert "more than 2000 tokens" in answer["errors"][0]["message"]


async def test_a_200_kb_argument_is_answered_fast_and_typed(api):
    started = time.perf_counter()
    answer = await graphql(api, d.USERNAME_AVAILABLE, {"u": "a" * 200_000})
    reset_answer = await graphql(api, d.REQUEST_RESET, {"phone": "1" * 200_000})
    assert answer == {"data": {"usernameAvailable": False}}
    assert reset_answer["data"]["requestReset"]["__typename"] == "InvalidInput"
    assert time.perf_counter() - started < 1.0


async def test_validation_is_cached_across_requests(api):
    """The limit rules are built once: a repeated document is validated once (the cache
    is keyed on the rule classes, so rules built per request would miss every time)."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    cache = _get_validate_cache(256)
    document = f"query CacheProbe{time.time_ns()} {{ __typename }}"
    await graphql(api, document)
    before = cache.cache_info().hits
    await graphql(api, document)
    assert cache.cache_info().hits == before + 1


# --- transport ---------------------------------------------------------------------------


async def test_array_batching_is_refused_with_400(api):
    phone = new_phone()
    one = {"query": d.REQUEST_RESET, "variables": {"phone": phone}}
    response = await post_json(api, [one, one, one])
    assert response.status_code == 400
    assert await sms_queued(phone) == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": ',  # truncated
        b"{'query': '{ me { id } }'}",  # not JSON
        b'"{ me { id } }"',  # a JSON string
        b"null",
        b"42",
        b"1" * 5000,  # a number too long to convert
        b'{"query": "{ me { id } }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        b'{"query": "\xff\xfe{ me { id } }"}',  # not UTF-8
        b'{"query": "{ me { id } }", "variables": {"p": "\\ud800"}}',  # a lone surrogate
        b'{"query": "{ me { id } }\x00"}',  # a raw NUL byte inside a JSON string
        b"",
    ],
    ids=[
        "truncated",
        "single-quotes",
        "json-string",
        "json-null",
        "json-number",
        "long-number",
        "deep-nesting",
        "bad-utf8",
        "lone-surrogate",
        "raw-nul",
        "empty",
    ],
)
async def test_a_body_that_is_not_a_json_request_is_400(api, body):
    response = await post_raw(api, body)
    assert response.status_code == 400, response.text
    assert "Traceback" not in response.text
    await still_answers(api)


@pytest.mark.parametrize(
    "variables",
    [{"phone": 5}, {"phone": ["+14155550123"]}, {"phone": {"$ne": ""}}, {"phone": None}],
    ids=["number", "list", "object", "null"],
)
async def test_wrong_json_types_in_variables_are_visible_errors_not_faults(api, variables):
    answer = await graphql(api, d.REQUEST_RESET, variables)
    assert "data" not in answer
    message = answer["errors"][0]["message"]
    assert message.startswith("Variable '$phone'") and "Unexpected error" not in message


async def test_nul_bytes_in_the_document_are_a_syntax_error(api):
    answer = await graphql(api, "{ me\x00 { id } }")
    assert "data" not in answer
    assert "Unexpected character: U+0000" in answer["errors"][0]["message"]


async def test_nul_bytes_in_every_input_get_typed_answers(api):
    # given an account, so authenticated mutations run too
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    code = await api.sms.code(phone, "verify_signup")
    verify = {"phone": phone, "challenge": sent["challenge"], "code": code}
    session = await api.run(d.VERIFY_PHONE, {"input": verify})
    token = session["accessToken"]
    nul = "ab\x00cd\x00"
    calls = [
        (d.SIGNUP, {"input": {"phone": nul, "password": STRONG_PASSWORD}}, None),
        (d.SIGNUP, {"input": {"phone": new_phone(), "password": nul * 4}}, None),
        (
            d.SIGNUP,
            {"input": {"phone": new_phone(), "password": STRONG_PASSWORD, "username": nul}},
            None,
        ),
        (d.RESEND, {"phone": nul, "challenge": nul}, None),
        (d.RESEND, {"phone": phone, "challenge": nul}, None),
        (
            d.VERIFY_PHONE,
            {"input": {"phone": phone, "challenge": nul, "code": "12\x003456"}},
            None,
        ),
        (d.VERIFY_PHONE, {"input": {"phone": phone, "challenge": nul, "code": "123456"}}, None),
        (d.LOGIN, {"input": {"identifier": nul, "password": nul}}, None),
        (d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD + "\x00"}}, None),
        (d.VERIFY_LOGIN, {"input": {"challenge": nul, "code": "123456"}}, None),
        (d.REFRESH, {"token": nul}, None),
        (d.REQUEST_RESET, {"phone": nul}, None),
        (
            d.RESET_PASSWORD,
            {"input": {"phone": phone, "challenge": nul, "code": nul, "newPassword": nul}},
            None,
        ),
        (
            d.CHANGE_IDENTITY,
            {"input": {"currentPassword": STRONG_PASSWORD, "username": nul}},
            token,
        ),
        (d.CHANGE_PASSWORD, {"input": {"currentPassword": nul, "newPassword": nul}}, token),
        (d.CONFIRM_IDENTITY, {"code": nul}, token),
    ]
    for document, variables, bearer in calls:
        # when
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = await post_json(api, {"query": document, "variables": variables}, **headers)
        # then a member of the result union, never an error entry
        assert response.status_code == 200, (document, response.text)
        body = response.json()
        assert "errors" not in body, (variables, body)
        (value,) = body["data"].values()
        assert value["__typename"] not in ("Session", "PasswordReset"), value
    assert (await api.run(d.USERNAME_AVAILABLE, {"u": nul})) is False
    await still_answers(api)


async def test_a_mutation_over_get_is_refused_and_does_nothing(api):
    phone = new_phone()
    document = "mutation { " + reset_field(phone) + " }"
    response = await api.http.get("/graphql", params={"query": document})
    assert response.status_code in (400, 405)
    assert await sms_queued(phone) == 0


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/x-www-form-urlencoded", lambda q: "query=" + q),
        ("text/plain", lambda q: json.dumps({"query": q})),
        (
            "multipart/form-data; boundary=x",
            lambda q: (
                f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{q}\r\n--x--\r\n'
            ),
        ),
        (None, lambda q: json.dumps({"query": q})),
    ],
    ids=["form", "text-plain", "multipart", "no-content-type"],
)
async def test_a_mutation_posted_as_a_browser_form_is_refused(api, content_type, encode):
    """CSRF: a page on another site can post forms and text/plain, never JSON."""
    phone = new_phone()
    document = "mutation { " + reset_field(phone) + " }"
    response = await post_raw(api, encode(document), content_type=content_type)
    assert response.status_code == 400, response.text
    assert await sms_queued(phone) == 0


async def test_a_twelve_mebibyte_body_is_413(api):
    body = b'{"query": "' + b"x" * (12 * 1024 * 1024) + b'"}'
    response = await post_raw(api, body)
    assert response.status_code == 413
    await still_answers(api)


async def test_a_twelve_mebibyte_body_without_length_is_413(api):
    async def chunks():
        yield b'{"query": "'
        for _ in range(12):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = await api.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    await still_answers(api)


async def test_a_body_just_under_the_cap_is_served(api):
    padding = " " * (1024 * 1024 - 200)
    response = await post_raw(api, '{"query": "{ __typename }"' + padding + "}")
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


# --- what errors and tools reveal ---------------------------------------------------------


async def test_a_fault_is_masked_without_internals(api, monkeypatch):
    async def fails(*args, **kwargs):
        raise RuntimeError('relation "users" violates SELECT * FROM users WHERE phone = $1')

    monkeypatch.setattr(reset, "request", fails)
    answer = await graphql(api, d.REQUEST_RESET, {"phone": new_phone()})
    assert answer["data"] is None
    assert [e["message"] for e in answer["errors"]] == ["Unexpected error."]
    text = json.dumps(answer)
    assert "SELECT" not in text and "users" not in text and "Traceback" not in text


async def test_production_refuses_introspection(production_api):
    for document in ("{ __schema { types { name } } }", '{ __type(name: "User") { name } }'):
        answer = await graphql(production_api, document)
        assert "data" not in answer
        assert "introspection has been disabled" in answer["errors"][0]["message"]


async def test_production_errors_suggest_no_names(production_api):
    documents = [
        ("{ mee { id } }", {}),  # a field
        ('mutation { requestReset(phon: "1") { __typename } }', {}),  # an argument
        ('mutation { requestReset(phone: "1") { ... on ResetCodeSen { phone } } }', {}),  # a type
        (d.SIGNUP, {"input": {"phon": "1", "password": "x"}}),  # an input field
    ]
    for document, variables in documents:
        answer = await graphql(production_api, document, variables)
        messages = " ".join(e["message"] for e in answer["errors"])
        assert "Did you mean" not in messages, messages
        assert "ResetCodeSent" not in messages and "'me'" not in messages


async def test_development_still_suggests(api):
    answer = await graphql(api, "{ mee { id } }")
    assert "Did you mean 'me'?" in answer["errors"][0]["message"]


async def test_production_serves_no_graphiql_and_no_get_queries(production_api):
    page = await production_api.http.get("/graphql", headers={"accept": "text/html"})
    query = await production_api.http.get("/graphql", params={"query": "{ __typename }"})
    assert page.status_code == 404 and "graphiql" not in page.text.lower()
    assert query.status_code in (400, 405)


async def test_development_serves_graphiql(api):
    page = await api.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# --- CORS ----------------------------------------------------------------------------------


async def test_cors_answers_only_the_configured_origins(make_settings, start_app):
    async with start_app(make_settings(CORS_ORIGINS="https://app.example")) as api:
        preflight = {"access-control-request-method": "POST"}
        allowed = await api.http.options(
            "/graphql", headers={"origin": "https://app.example", **preflight}
        )
        foreign = await api.http.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        simple = await api.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"}
        )
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
    assert "access-control-allow-origin" not in foreign.headers
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-credentials" not in allowed.headers


async def test_without_cors_origins_no_origin_is_allowed(api):
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example"}
    )
    assert "access-control-allow-origin" not in response.headers

"""The attacker's suite, transport and input (issue 11, smaller findings): the content type is
parsed as a media type; a junk X-Forwarded-For from a trusted proxy is no client key; a
variable that cannot be coerced is not echoed back; a password with control characters is
refused with WeakPassword."""

from __future__ import annotations

import json

import pytest

from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.test_security_support import post_raw

PROXY = ("127.0.0.9", 40000)
SIGNUP_DOC = "mutation($input: SignupInput!) { signup(input: $input) { __typename } }"
SECRET = "hunter2 violet tractor"


@pytest.mark.parametrize(
    "content_type",
    ["application/jsonx", "application/json-patch+json", "text/plain; a=application/json"],
)
async def test_a_content_type_that_only_contains_application_json_is_refused(api, content_type):
    # when
    response = await post_raw(
        api, json.dumps({"query": "{ __typename }"}), content_type=content_type
    )
    # then
    assert response.status_code in {400, 415}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_json_with_parameters_is_accepted(api, content_type):
    response = await post_raw(
        api, json.dumps({"query": "{ __typename }"}), content_type=content_type
    )
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


async def logins(api, forwarded, count):
    answers = []
    for i in range(count):
        answer = await api.post(
            d.LOGIN,
            {"input": {"identifier": new_phone(), "password": "wrong password here"}},
            headers={"X-Forwarded-For": forwarded(i)},
        )
        answers.append(answer["login"]["__typename"])
    return answers


async def test_junk_forwarded_for_values_from_a_trusted_proxy_share_the_proxys_budget(
    make_settings, start_app
):
    settings = make_settings(FORWARDED_ALLOW_IPS=PROXY[0], RATE_LIMITS="login_per_client=3/minute")
    async with start_app(settings, client=PROXY) as api:
        # when: every request names a different junk "client"
        answers = await logins(api, lambda i: f"unknown-{i}", 5)
        spliced = await logins(api, lambda i: f"203.0.113.7, junk{i}", 2)
    # then: junk is no address: they are all the proxy's requests
    assert answers == ["InvalidCredentials"] * 3 + ["RateLimited"] * 2
    assert spliced == ["RateLimited"] * 2


async def test_real_forwarded_addresses_from_a_trusted_proxy_stay_separate_clients(
    make_settings, start_app
):
    settings = make_settings(FORWARDED_ALLOW_IPS=PROXY[0], RATE_LIMITS="login_per_client=3/minute")
    async with start_app(settings, client=PROXY) as api:
        answers = await logins(api, lambda i: f"junk, 198.51.100.{i + 1}", 5)
    assert answers == ["InvalidCredentials"] * 5


@pytest.mark.parametrize(
    "variables",
    [
        {"input": {"phone": "+14155550123", "password": [SECRET]}},
        {"input": {"phone": "+14155550123", "password": {"value": SECRET}}},
        {"input": {"password": SECRET}},  # a required field missing: "found: {...}"
        {"input": {"phone": "+14155550123", "password": SECRET, "extra": 1}},
    ],
    ids=["list", "object", "missing-field", "unknown-field"],
)
async def test_a_variable_that_cannot_be_coerced_is_not_echoed_back(api, variables):
    # when
    response = await api.http.post("/graphql", json={"query": SIGNUP_DOC, "variables": variables})
    # then: the error keeps its shape and says where, not what was sent
    body = response.json()
    assert body.get("data") is None and body["errors"]
    assert SECRET not in response.text
    assert all(e["message"].startswith("Variable '$input'") for e in body["errors"])
    assert all("locations" in e for e in body["errors"])


@pytest.mark.parametrize("control", ["\x00", "\x07", "\n", "\x7f", "\x85"])
async def test_a_password_with_a_control_character_is_weak(api, control):
    # when
    password = f"violet{control}tractor oboe 77"
    answer = await api.run(
        d.SIGNUP, {"input": {"phone": new_phone(), "password": password, "username": None}}
    )
    # then
    assert answer["__typename"] == "WeakPassword"
    assert "control" in answer["message"]


async def test_a_password_with_emoji_joiners_and_spaces_is_still_accepted(api):
    password = f"{STRONG_PASSWORD} \U0001f469\u200d\U0001f4bb"
    answer = await api.run(
        d.SIGNUP, {"input": {"phone": new_phone(), "password": password, "username": None}}
    )
    assert answer["__typename"] == "VerificationSent"

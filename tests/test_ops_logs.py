"""Request logs: one structured line per request, with a request id; never a secret."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from server.logs import JsonFormatter
from server.observability import RequestIdFilter
from tests import documents as d
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone

THIRD_PASSWORD = "quiet harbor kettle 31"


@contextlib.contextmanager
def json_log() -> Iterator[io.StringIO]:
    """Everything every logger writes at the production level (INFO), as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def request_lines(text: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [e for e in entries if e["logger"] == "phonegate.request"]


async def full_flow(api) -> list[str]:
    """Every flow a user goes through; the secrets it handled."""
    phone = new_phone()
    seen = [phone, phone[2:], STRONG_PASSWORD, OTHER_PASSWORD, THIRD_PASSWORD]
    signup = {"phone": phone, "password": STRONG_PASSWORD, "username": "log_probe"}
    sent = await api.run(d.SIGNUP, {"input": signup})
    code = await api.sms.code(phone, "verify_signup")
    verify = {"phone": phone, "challenge": sent["challenge"], "code": code}
    session = await api.run(d.VERIFY_PHONE, {"input": verify})
    login = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}})
    await api.run(d.ME, token=login["accessToken"])
    refreshed = await api.run(d.REFRESH, {"token": login["refreshToken"]})
    reset_sent = await api.run(d.REQUEST_RESET, {"phone": phone})
    reset_code = await api.sms.code(phone, "reset_password")
    reset = {
        "phone": phone,
        "challenge": reset_sent["challenge"],
        "code": reset_code,
        "newPassword": OTHER_PASSWORD,
    }
    await api.run(d.RESET_PASSWORD, {"input": reset})
    again = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
    change = {"currentPassword": OTHER_PASSWORD, "newPassword": THIRD_PASSWORD}
    changed = await api.run(d.CHANGE_PASSWORD, {"input": change}, token=again["accessToken"])
    new_session = changed["session"]
    await api.run(d.LOGOUT, {"refreshToken": new_session["refreshToken"]})
    seen += [code, reset_code]
    for s in (session, login, refreshed, again, new_session):
        seen += [s["accessToken"], s["refreshToken"]]
    return seen


async def test_a_full_flow_logs_one_line_per_request_and_no_secret(api):
    # given
    with json_log() as stream:
        # when
        seen = await full_flow(api)
    text = stream.getvalue()
    # then: no code, password, token or full phone anywhere in the log
    for secret in seen:
        found = re.search(rf"(?<![\w+]){re.escape(secret)}(?!\w)", text)
        assert not found, [line for line in text.splitlines() if secret in line]
    lines = request_lines(text)
    operations = [(line["operation"], line["result"]) for line in lines]
    assert operations == [
        ("signup", "VerificationSent"),
        ("verifyPhone", "Session"),
        ("login", "Session"),
        ("me", "User"),
        ("refreshSession", "Session"),
        ("requestReset", "ResetCodeSent"),
        ("resetPassword", "PasswordReset"),
        ("login", "Session"),
        ("changePassword", "PasswordChanged"),
        ("logout", "LoggedOut"),
    ]
    assert len({line["request_id"] for line in lines}) == len(lines)
    for line in lines:
        assert line["method"] == "POST" and line["path"] == "/graphql" and line["status"] == 200
        assert line["duration_ms"] >= 0


async def test_the_request_id_is_returned_and_a_sane_incoming_one_is_kept(api):
    # given
    query = {"query": "{ __typename }"}
    with json_log() as stream:
        # when
        made = await api.http.post("/graphql", json=query)
        kept = await api.http.post("/graphql", json=query, headers={"X-Request-ID": "edge-42.a"})
        odd = await api.http.post("/graphql", json=query, headers={"X-Request-ID": "a b\tc"})
    # then
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])
    assert kept.headers["x-request-id"] == "edge-42.a"
    assert re.fullmatch(r"[0-9a-f]{16}", odd.headers["x-request-id"])
    ids = [line["request_id"] for line in request_lines(stream.getvalue())]
    assert ids == [made.headers["x-request-id"], "edge-42.a", odd.headers["x-request-id"]]


async def test_refused_documents_and_oversized_bodies_are_logged_too(api):
    # given
    with json_log() as stream:
        # when
        invalid = await api.http.post("/graphql", json={"query": "{ nosuchfield }"})
        too_big = await api.http.post(
            "/graphql", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "text/plain"}
        )
    # then
    lines = request_lines(stream.getvalue())
    assert invalid.status_code == 200 and too_big.status_code == 413
    assert [(x["operation"], x["result"], x["status"]) for x in lines] == [
        ("(invalid)", "error", 200),
        ("-", "-", 413),
    ]


async def test_log_lines_written_during_a_request_carry_its_id(api):
    # given
    probe = logging.getLogger("phonegate.test_probe")

    async def noisy(request):
        from starlette.responses import PlainTextResponse

        probe.warning("inside the request")
        return PlainTextResponse("ok")

    from starlette.routing import Route

    api.app.router.routes.insert(0, Route("/_probe", noisy))
    with json_log() as stream:
        # when
        response = await api.http.get("/_probe")
    # then
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside = next(e for e in entries if e["message"] == "inside the request")
    assert inside["request_id"] == response.headers["x-request-id"]

"""Helpers of the security suite (tests/test_security_*.py): raw HTTP, aliased documents,
SMS accounting and settings that take a limit out of the way. No tests here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from models import OutboxMessage
from tests.support import Api

# Every named limit, so high that a test can isolate the one it attacks.
UNLIMITED = {
    "sms_per_phone": "100000/minute",
    "sms_per_client": "100000/minute",
    "sms_per_prefix": "100000/minute",
    "sms_global": "100000/minute",
    "verify_per_client": "100000/minute",
    "login_per_client": "100000/minute",
    "failures_per_account": "100000/day",
    "password_failures_per_account": "100000/minute",
    "account_ops": "100000/minute",
}


def limits(**tight: str) -> str:
    """A RATE_LIMITS value: every limit out of the way except the ``tight`` ones."""
    return ",".join(f"{name}={spec}" for name, spec in {**UNLIMITED, **tight}.items())


# Concurrency claims are asserted on PostgreSQL; SQLite runs one writer at a time anyway.
postgres_only = pytest.mark.postgres_only


async def post_raw(
    api: Api,
    content: bytes | str,
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["content-type"] = content_type
    return await api.http.post("/graphql", content=content, headers=all_headers)


async def post_json(api: Api, payload: Any, **headers: str) -> httpx.Response:
    return await api.http.post("/graphql", json=payload, headers=headers)


async def graphql(api: Api, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The whole JSON answer of one request (data and errors), status 200 asserted."""
    response = await post_json(api, {"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


def aliased(field: str, count: int, *, operation: str = "mutation") -> str:
    """One document with ``count`` aliases of ``field`` (a root field with its selection),
    where "{i}" in ``field`` becomes the alias number."""
    parts = " ".join(f"a{i}: {field.replace('{i}', str(i))}" for i in range(count))
    return f"{operation} {{ {parts} }}"


async def still_answers(api: Api) -> None:
    """The server keeps answering: health, and a GraphQL query."""
    health = await api.http.get("/healthz")
    assert health.status_code == 200
    answer = await graphql(api, "{ __typename }")
    assert answer == {"data": {"__typename": "Query"}}


async def sms_queued(*phones: str) -> int:
    """Messages the server decided to send to ``phones`` (outbox rows, sent or not)."""
    return await OutboxMessage.filter(phone__in=list(phones)).count()


async def drained(*phones: str, timeout: float = 5.0) -> None:
    """Wait until the outbox worker has taken every message queued to ``phones``."""
    deadline = time.monotonic() + timeout
    pending = {"phone__in": list(phones), "state__in": ["queued", "sending"]}
    while await OutboxMessage.filter(**pending).exists():
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.02)


def typenames(data: dict[str, Any] | None) -> list[str]:
    return [value["__typename"] for value in (data or {}).values()]

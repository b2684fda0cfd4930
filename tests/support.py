"""Shared test helpers: phones, the recording sender, an API client over ASGI."""

from __future__ import annotations

import asyncio
import random
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import phonenumbers

STRONG_PASSWORD = "violet tractor oboe 77"
OTHER_PASSWORD = "marble cactus lantern 12"
CODE_RE = re.compile(r"\b(\d{6,10})\b")


def new_phone(area: str = "415") -> str:
    """A random valid US number (FIXED_LINE_OR_MOBILE), unique enough per test."""
    while True:
        candidate = f"+1{area}{random.randint(2_000_000, 9_999_999)}"
        number = phonenumbers.parse(candidate)
        if phonenumbers.is_valid_number(number):
            return candidate


@dataclass
class SentMessage:
    to: str
    body: str
    action: str
    channel: str = "sms"


@dataclass
class RecordingSender:
    """A Sender that keeps what it was asked to send (the console sender, but readable)."""

    messages: list[SentMessage] = field(default_factory=list)

    async def send(
        self,
        to: str,
        body: str,
        *,
        action: str,
        status_callback: str | None,
        channel: str = "sms",
    ) -> str:
        self.messages.append(SentMessage(to, body, action, channel))
        return f"SM{secrets.token_hex(16)}"

    async def close(self) -> None:
        return None

    def to(self, phone: str, action: str | None = None) -> list[SentMessage]:
        return [
            m for m in self.messages if m.to == phone and (action is None or m.action == action)
        ]

    async def wait(
        self, phone: str, action: str, count: int = 1, timeout: float = 5.0
    ) -> SentMessage:
        """The count-th message of ``action`` to ``phone``, once the outbox worker sent it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.to(phone, action)
            if len(found) >= count:
                return found[count - 1]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {action} SMS #{count} to {phone}: {self.messages}")
            await asyncio.sleep(0.01)

    async def code(self, phone: str, action: str, count: int = 1) -> str:
        message = await self.wait(phone, action, count)
        match = CODE_RE.search(message.body)
        assert match, message.body
        return match.group(1)


@dataclass
class Api:
    """GraphQL over HTTP against the ASGI app."""

    http: httpx.AsyncClient
    sms: RecordingSender
    app: Any
    token: str | None = None

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        bearer = token if token is not None else self.token
        return await graphql_data(self.http, query, variables, token=bearer, headers=headers)

    async def run(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The single root field's value of a one-field operation."""
        data = await self.post(query, variables, **kw)
        (value,) = data.values()
        return value  # type: ignore[no-any-return]


async def graphql_data(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST /graphql; the ``data`` of a 200 answer without errors."""
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


async def graphql_value(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """The single root field's value of a one-field operation."""
    (value,) = (await graphql_data(http, query, variables, **kw)).values()
    return value


async def eventually(condition: Any, timeout: float = 5.0, what: str = "the condition") -> None:
    """Wait until ``await condition()`` is true (instead of sleeping a fixed time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(0.01)

"""A minimal Twilio double for the bench and the multi-worker tests.

It answers the one call phonegate makes, ``POST /2010-04-01/Accounts/{sid}/Messages.json``,
after ``delay_seconds`` (changeable while it runs), with a message resource, and keeps
what it was sent. Plain asyncio streams with HTTP/1.1 keep-alive, so it costs little CPU
beside the server being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs

CODE = re.compile(r"\b(\d{6,10})\b")


@dataclass
class Sms:
    to: str
    body: str
    sid: str


@dataclass
class TwilioDouble:
    delay_seconds: float = 0.0
    messages: list[Sms] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """The environment of a server that sends its SMS through this double (which
        takes any account and token)."""
        return {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "double-token",
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": self.base_url,
        }

    async def start(self) -> TwilioDouble:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def to(self, phone: str) -> list[Sms]:
        return [m for m in self.messages if m.to == phone]

    def code(self, phone: str) -> str | None:
        """The code in the newest message to ``phone`` that has one."""
        for message in reversed(self.to(phone)):
            match = CODE.search(message.body)
            if match:
                return match.group(1)
        return None

    async def wait_code(self, phone: str, within: float = 10.0) -> str:
        deadline = asyncio.get_running_loop().time() + within
        while (code := self.code(phone)) is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no code reached {phone}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.2))
        return code

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                writer.write(await self._answer(head.split(b" ", 2)[1].decode(), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _answer(self, path: str, body: bytes) -> bytes:
        if not path.endswith("/Messages.json"):
            return _response(404, {"code": 20404, "message": "not found", "status": 404})
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        sid = f"SM{next(self._sids):032x}"
        self.messages.append(Sms(form.get("To", ""), form.get("Body", ""), sid))
        self._arrived.set()
        account = path.split("/")[3] if path.count("/") >= 4 else "AC"
        resource = {
            "sid": sid,
            "account_sid": account,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        return _response(201, resource)


def _response(status: int, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {'Created' if status == 201 else 'Error'}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body

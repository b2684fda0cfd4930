"""A local Twilio double over real HTTP, and the app in a subprocess pointed at it.

``TwilioDouble`` answers the Messages API the way Twilio does, on 127.0.0.1 and a free
port, in a thread of its own (so pytest's event loop, or a server in a subprocess, talks
to it over real sockets with the real SDK):

- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (To, From or MessagingServiceSid,
  Body, StatusCallback): 201 and a message resource with an ``SM...`` sid and status
  ``queued``; Twilio's classic error bodies ``{code, message, more_info, status}``
  otherwise; basic auth checked (401 / 20003);
- ``GET .../Messages.json`` (To, From, PageSize; newest first) and ``.../Messages/{sid}.json``;
- Twilio's magic numbers (README "SMS delivery and Twilio"): To +15005550001 -> 21211, ...02 -> 21612,
  ...03 -> 21408, ...04 -> 21610, ...09 -> 21614; From +15005550001 -> 21212,
  ...07 -> 21606, ...08 -> 21611.

Failures on demand: ``fail_next(n, status)`` (503 by default; ``bare=True``: a plain-text
answer without a Twilio error code, as a load balancer gives), ``rate_limit_next(n)``
(429 / 20429), ``outage()`` / ``recover()``, ``delay(seconds, record=...)`` (a slow Twilio
that accepted the message at once, or a black hole that never got it and answers 504),
``refuse(to, code)``. Every accepted message is in ``messages``; every request, with the
status it got, in ``requests``. ``callback(sid, status)`` posts a signed status callback to
the message's StatusCallback, as Twilio would.

The same controls are reachable over HTTP (``POST /_double/<control>`` with a JSON body,
``GET /_double/messages``), so the double can also run by hand:
``uv run python -m tests.twilio_double --port 8010``.

Issue 16, reach: the Calls API (``POST``/``GET .../Calls.json``: To, From, Twiml or Url,
StatusCallback; a ``CA...`` sid; ``calls``, ``call_to``, ``wait_call``, ``call_callback``
posting CallSid/CallStatus) with Twilio's call errors for unreachable numbers (To
+15005550001 -> 13224 invalid number, ...03 -> 21215 no geographic permission), and
``whatsapp:`` addresses on the Messages API: a number not on WhatsApp (``not_on_whatsapp``)
-> 63003 at creation, a From that is no WhatsApp sender -> 63007. Twilio's reference files
63003 as an application log entry, so it may instead accept the message and report 63003 in
the failed status callback; tests post that form with ``callback(..., error_code=63003)``.

``AppProcess`` runs ``python main.py`` (the real server) in its own process group with
SMS_BACKEND=twilio and TWILIO_API_BASE_URL pointing at a double; ``kill()`` is kill -9.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "d0" * 16  # test values, never a real credential
AUTH_TOKEN = "double-auth-token-" + "0" * 14
FROM_NUMBER = "+15005550006"  # Twilio's magic "valid" sender
API = "/2010-04-01/Accounts/{sid}"
MAGIC_TO = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}
MAGIC_FROM = {"+15005550001": 21212, "+15005550007": 21606, "+15005550008": 21611}
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages.",
    21612: "The 'To' phone number is not currently reachable via SMS.",
    21614: "'To' number is not a valid mobile number",
}
ERROR_MESSAGES.update(
    {
        13224: "Dial: Invalid phone number",
        21201: "No 'To' number is specified",
        21205: "Url parameter is required",
        21213: "No 'From' number is specified",
        21215: "Geo Permission configuration is not permitting call",
        63003: "Channel could not find To address",
        63007: "Twilio could not find a Channel with the specified From address",
    }
)
MAGIC_CALL_TO = {"+15005550001": 13224, "+15005550003": 21215}
WHATSAPP = "whatsapp:"
HTTP_STATUS = {20003: 401, 20404: 404, 20429: 429, 20500: 500, 20503: 503}


@dataclass
class Accepted:
    """A message the double accepted (Twilio would now deliver it)."""

    sid: str
    to: str
    sender: str
    body: str
    status_callback: str
    created: datetime


@dataclass
class Seen:
    """One POST to Messages.json and the HTTP status it got."""

    to: str
    status: int
    at: float


@dataclass
class _Faults:
    fail: list[int] = field(default_factory=list)  # statuses for the next requests
    fail_for: dict[str, list[int]] = field(default_factory=dict)  # the same, per To number
    bare: int = 0  # the next forced failures answer plain text, without a Twilio code
    outage: int | None = None  # status for every request until recover()
    delay_seconds: float = 0.0
    delay_count: int | None = None  # None: every request
    delay_records: bool = True
    delay_to: str | None = None  # None: any To number
    refusals: dict[str, int] = field(default_factory=dict)


def error_body(code: int, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TwilioDouble:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[Accepted] = []
        self.requests: list[Seen] = []
        self.callbacks: list[tuple[str, str, int]] = []  # (sid, status, answer)
        self.calls: list[Accepted] = []  # body: the call's TwiML (or its Url)
        self.not_on_whatsapp: set[str] = set()  # E.164 numbers WhatsApp does not know
        self._faults = _Faults()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- life ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> TwilioDouble:
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(port, started), name="twilio-double", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Twilio double did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> TwilioDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, port: int, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        messages = API + "/Messages"
        app.router.add_post(messages + ".json", self._create)
        app.router.add_get(messages + ".json", self._list)
        app.router.add_get(messages + "/{message_sid}.json", self._fetch)
        app.router.add_post(API + "/Calls.json", self._create_call)
        app.router.add_get(API + "/Calls.json", self._list_calls)
        app.router.add_post("/_double/{control}", self._control)
        app.router.add_get("/_double/messages", self._dump)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        loop.run_until_complete(site.start())
        self.port = site.port
        started.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        """Stop serving; requests still held by a delay are dropped."""
        held = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # --- controls (any thread) -----------------------------------------------------------

    def fail_next(
        self, count: int, status: int = 503, *, to: str | None = None, bare: bool = False
    ) -> None:
        """The next ``count`` message requests (to ``to``, or any) get ``status``; ``bare``:
        as plain text without a Twilio error code."""
        if bare:
            with self._lock:
                self._faults.bare += count
        with self._lock:
            if to is None:
                self._faults.fail.extend([status] * count)
            else:
                self._faults.fail_for.setdefault(to, []).extend([status] * count)

    def rate_limit_next(self, count: int, *, to: str | None = None) -> None:
        self.fail_next(count, 429, to=to)

    def outage(self, status: int = 503) -> None:
        """Every message request gets ``status`` until ``recover()``."""
        with self._lock:
            self._faults.outage = status

    def recover(self) -> None:
        with self._lock:
            self._faults.outage = None
            self._faults.bare = 0
            self._faults.fail.clear()
            self._faults.fail_for.clear()
            self._faults.delay_seconds = 0.0

    def delay(
        self,
        seconds: float,
        *,
        count: int | None = None,
        record: bool = True,
        to: str | None = None,
    ) -> None:
        """Answer (the next ``count``, or every) message request (to ``to``) after ``seconds``.

        record=True: a slow Twilio, the message accepted on arrival and the answer late.
        record=False: a black hole, nothing accepted, 504 after the wait.
        """
        with self._lock:
            self._faults.delay_seconds = seconds
            self._faults.delay_count = count
            self._faults.delay_records = record
            self._faults.delay_to = to

    def refuse(self, to: str, code: int) -> None:
        """A permanent error ``code`` for every message to ``to``."""
        with self._lock:
            self._faults.refusals[to] = code

    def reset(self) -> None:
        with self._lock:
            self._faults = _Faults()

    # --- observations --------------------------------------------------------------------

    def to(self, phone: str) -> list[Accepted]:
        with self._lock:
            return [m for m in self.messages if m.to == phone]

    def seen(self, phone: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.to == phone]

    async def wait(self, phone: str, count: int = 1, timeout: float = 10.0) -> list[Accepted]:
        """At least ``count`` accepted messages to ``phone`` (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while len(found := self.to(phone)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} messages to {phone} arrived")
            await asyncio.sleep(0.02)
        return found

    async def wait_seen(self, phone: str, count: int = 1, timeout: float = 10.0) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while len(found := self.seen(phone)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} requests for {phone} arrived")
            await asyncio.sleep(0.02)
        return found

    def callback(self, sid: str, status: str, *, error_code: int | None = None) -> int:
        """POST a signed status callback to the message's StatusCallback; the answer."""
        message = next(m for m in self.messages if m.sid == sid)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.sender,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        headers = {"X-Twilio-Signature": sign(message.status_callback, params, self.auth_token)}
        with httpx.Client(trust_env=False, timeout=10) as client:
            answer = client.post(message.status_callback, data=params, headers=headers)
        self.callbacks.append((sid, status, answer.status_code))
        return answer.status_code

    # --- the Messages API ----------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        form = await request.post()
        to, sender = str(form.get("To", "")), str(form.get("From", ""))
        service = str(form.get("MessagingServiceSid", ""))
        status, record, delay = self._fault_for(to)
        code = None if status is not None else self._invalid(form, to, sender, service)
        if delay:
            if record and status is None and code is None:  # accepted now, answered late
                accepted = self._accept(form, to, sender, service)
                self._seen(to, 201)
                await asyncio.sleep(delay)
                return self._resource(accepted, 201)
            await asyncio.sleep(delay)
            if not record:  # it never reached Twilio: the gateway gives up
                status = status or 504
        if status is not None:
            self._seen(to, status)
            if self._take_bare():
                return web.Response(text="Service Unavailable", status=status)
            code = {429: 20429, 500: 20500, 503: 20503, 504: 20504}.get(status, status)
            return web.json_response(error_body(code, status), status=status)
        if code is not None:
            self._seen(to, 400)
            return web.json_response(error_body(code, 400), status=400)
        accepted = self._accept(form, to, sender, service)
        self._seen(to, 201)
        return self._resource(accepted, 201)

    def _take_bare(self) -> bool:
        with self._lock:
            if self._faults.bare <= 0:
                return False
            self._faults.bare -= 1
            return True

    def _fault_for(self, to: str) -> tuple[int | None, bool, float]:
        """(forced status, whether a delayed message is accepted, delay) for one request."""
        with self._lock:
            f = self._faults
            mine = f.fail_for.get(to)
            status = mine.pop(0) if mine else f.fail.pop(0) if f.fail else f.outage
            delay = f.delay_seconds if f.delay_to in (None, to) else 0.0
            if delay and f.delay_count is not None:
                f.delay_count -= 1
                if f.delay_count <= 0:
                    f.delay_seconds, f.delay_count = 0.0, None
            return status, f.delay_records, delay

    def _invalid(self, form: Any, to: str, sender: str, service: str) -> int | None:
        if not to:
            return 21604
        if not sender and not service:
            return 21603
        if not form.get("Body"):
            return 21602
        if to.startswith(WHATSAPP) or sender.startswith(WHATSAPP):
            if not sender.startswith(WHATSAPP):
                return 63007
            if not to.startswith(WHATSAPP) or to.removeprefix(WHATSAPP) in self.not_on_whatsapp:
                return 63003
        with self._lock:
            refusal = self._faults.refusals.get(to)
        return refusal or MAGIC_FROM.get(sender) or MAGIC_TO.get(to)

    def _accept(self, form: Any, to: str, sender: str, service: str) -> Accepted:
        accepted = Accepted(
            sid="SM" + secrets.token_hex(16),
            to=to,
            sender=sender or service,
            body=str(form.get("Body", "")),
            status_callback=str(form.get("StatusCallback", "")),
            created=datetime.now(UTC),
        )
        with self._lock:
            self.messages.append(accepted)
        return accepted

    def _seen(self, to: str, status: int) -> None:
        with self._lock:
            self.requests.append(Seen(to, status, time.monotonic()))

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        to, sender = request.query.get("To"), request.query.get("From")
        size = int(request.query.get("PageSize", "50"))
        with self._lock:
            found = [
                m
                for m in reversed(self.messages)
                if (to is None or m.to == to) and (sender is None or m.sender == sender)
            ][:size]
        uri = request.path
        page = {
            "messages": [self._json(m) for m in found],
            "end": max(len(found) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
        }
        return web.json_response(page)

    async def _fetch(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        sid = request.match_info["message_sid"]
        with self._lock:
            found = next((m for m in self.messages if m.sid == sid), None)
        if found is None:
            return web.json_response(error_body(20404, 404), status=404)
        return self._resource(found, 200)

    def _authenticate(self, request: web.Request) -> web.Response | None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        given = request.headers.get("Authorization", "")
        if not secrets.compare_digest(given, f"Basic {expected}"):
            return web.json_response(error_body(20003, 401), status=401)
        if request.match_info["sid"] != self.account_sid:
            return web.json_response(error_body(20404, 404), status=404)
        return None

    def _resource(self, message: Accepted, status: int) -> web.Response:
        return web.json_response(self._json(message), status=status)

    def _json(self, m: Accepted) -> dict[str, Any]:
        date = format_datetime(m.created)
        uri = f"{API.format(sid=self.account_sid)}/Messages/{m.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": m.body,
            "date_created": date,
            "date_sent": None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": m.sender if m.sender.startswith("+") else None,
            "messaging_service_sid": None if m.sender.startswith("+") else m.sender,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": m.to,
            "uri": uri,
        }

    # --- the Calls API (issue 16) -----------------------------------------------------------

    def call_to(self, phone: str) -> list[Accepted]:
        with self._lock:
            return [c for c in self.calls if c.to == phone]

    async def wait_call(self, phone: str, count: int = 1, timeout: float = 10.0) -> list[Accepted]:
        """At least ``count`` calls placed to ``phone`` (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while len(found := self.call_to(phone)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} calls to {phone} placed")
            await asyncio.sleep(0.02)
        return found

    def call_callback(self, sid: str, status: str, *, error_code: int | None = None) -> int:
        """POST a signed call status callback (CallSid, CallStatus) as Twilio would."""
        call = next(c for c in self.calls if c.sid == sid)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": sid,
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": call.sender,
            "To": call.to,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        headers = {"X-Twilio-Signature": sign(call.status_callback, params, self.auth_token)}
        with httpx.Client(trust_env=False, timeout=10) as client:
            answer = client.post(call.status_callback, data=params, headers=headers)
        self.callbacks.append((sid, status, answer.status_code))
        return answer.status_code

    async def _create_call(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        form = await request.post()
        to, sender = str(form.get("To", "")), str(form.get("From", ""))
        twiml = str(form.get("Twiml", "") or form.get("Url", ""))
        status, _, delay = self._fault_for(to)
        if delay:
            await asyncio.sleep(delay)
        if status is not None:
            self._seen(to, status)
            code = {429: 20429, 500: 20500, 503: 20503, 504: 20504}.get(status, status)
            return web.json_response(error_body(code, status), status=status)
        with self._lock:
            refusal = self._faults.refusals.get(to)
        code = (
            (21201 if not to else None)
            or (21213 if not sender else None)
            or (21205 if not twiml else None)
            or refusal
            or MAGIC_FROM.get(sender)
            or MAGIC_CALL_TO.get(to)
        )
        if code is not None:
            self._seen(to, 400)
            return web.json_response(error_body(code, 400), status=400)
        call = Accepted(
            sid="CA" + secrets.token_hex(16),
            to=to,
            sender=sender,
            body=twiml,
            status_callback=str(form.get("StatusCallback", "")),
            created=datetime.now(UTC),
        )
        with self._lock:
            self.calls.append(call)
        self._seen(to, 201)
        return web.json_response(self._call_json(call), status=201)

    async def _list_calls(self, request: web.Request) -> web.Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        to = request.query.get("To")
        size = int(request.query.get("PageSize", "50"))
        with self._lock:
            found = [c for c in reversed(self.calls) if to is None or c.to == to][:size]
        uri = request.path
        page = {
            "calls": [self._call_json(c) for c in found],
            "end": max(len(found) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
        }
        return web.json_response(page)

    def _call_json(self, c: Accepted) -> dict[str, Any]:
        date = format_datetime(c.created)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": date,
            "date_updated": date,
            "direction": "outbound-api",
            "from": c.sender,
            "sid": c.sid,
            "status": "queued",
            "to": c.to,
            "uri": f"{API.format(sid=self.account_sid)}/Calls/{c.sid}.json",
        }

    # --- controls over HTTP (running by hand) --------------------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        args = await request.json() if request.can_read_body else {}
        name = request.match_info["control"]
        controls = {
            "fail_next": self.fail_next,
            "rate_limit_next": self.rate_limit_next,
            "outage": self.outage,
            "recover": self.recover,
            "delay": self.delay,
            "refuse": self.refuse,
            "reset": self.reset,
        }
        if name not in controls:
            return web.json_response({"error": f"no control {name!r}"}, status=404)
        controls[name](**args)
        return web.json_response({"ok": True})

    async def _dump(self, request: web.Request) -> web.Response:
        with self._lock:
            rows = [self._json(m) | {"status_callback": m.status_callback} for m in self.messages]
        return web.json_response({"messages": rows})


def sign(url: str, params: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature of a POST of ``params`` to ``url``, as Twilio computes it."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


# --- the real server in a subprocess ---------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def twilio_settings(double: TwilioDouble, **extra: str) -> dict[str, str]:
    """Settings (environment variables) of an app that sends through ``double``, fast."""
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": double.account_sid,
        "TWILIO_AUTH_TOKEN": double.auth_token,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": double.base_url,
        "TWILIO_TIMEOUT_SECONDS": "0.5",
        "OUTBOX_RETRY_BASE_SECONDS": "0.05",
        "OUTBOX_RETRY_MAX_SECONDS": "0.2",
        "OUTBOX_LEASE_SECONDS": "3",
        "OUTBOX_POLL_SECONDS": "0.05",
        "RATE_LIMITS": "sms_per_client=1000/minute,sms_per_prefix=1000/minute",
        **extra,
    }


def server_env(double: TwilioDouble, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of ``main.py`` pointed at ``double``, with fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "OUTBOX_"))}
    env.update(NO_PROXY)
    env.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "JWT_SECRET": "subprocess-test-secret-" + "y" * 24,
            "ARGON2_MEMORY_KIB": "1024",
            "ARGON2_TIME_COST": "1",
            "LOG_FORMAT": "text",
            **twilio_settings(
                double,
                TWILIO_TIMEOUT_SECONDS="1",
                OUTBOX_RETRY_BASE_SECONDS="0.1",
                OUTBOX_RETRY_MAX_SECONDS="0.5",
                OUTBOX_LEASE_SECONDS="3.5",
                OUTBOX_POLL_SECONDS="0.2",
            ),
        }
    )
    env.update(extra)
    return env


_RUNNING: set[AppProcess] = set()


@atexit.register
def _kill_leftovers() -> None:
    """A test that failed half-way leaves no server behind."""
    for app in list(_RUNNING):
        app.kill()


class AppProcess:
    """``python main.py`` serving on a free port; ``kill()`` is kill -9 of its group."""

    def __init__(self, env: dict[str, str], *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.env.setdefault("PUBLIC_BASE_URL", self.url)
        self.log = Path(tempfile.mkstemp(prefix="phonegate-app-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AppProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "main.py"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches every worker
            )
        _RUNNING.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"main.py exited {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1, trust_env=False).is_success:
                    return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"main.py did not answer on {self.url}:\n{self.output()}")

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup, whatever it was doing."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        _RUNNING.discard(self)

    def terminate(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _RUNNING.discard(self)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            timeout=30,
            trust_env=False,
        )
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        (value,) = body["data"].values()
        return value  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def orm(database_url: str) -> AsyncIterator[None]:
    """The test process's own view of the database a server in a subprocess writes."""
    from tortoise import Tortoise

    from models import tortoise_config

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


@contextlib.contextmanager
def served_app(env: dict[str, str]) -> Iterator[AppProcess]:
    app = AppProcess(env).start()
    try:
        yield app
    finally:
        app.terminate()
        app.log.unlink(missing_ok=True)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="a local Twilio double (tests/twilio_double.py)")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    double = TwilioDouble().start(args.port)
    print(f"Twilio double on {double.base_url}")
    print(f"TWILIO_ACCOUNT_SID={double.account_sid} TWILIO_AUTH_TOKEN={double.auth_token}")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    double.stop()


if __name__ == "__main__":
    main()

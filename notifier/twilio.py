"""The Twilio sender: the official SDK's async client, pointed at TWILIO_API_BASE_URL.

The HTTP client rewrites the scheme and host of every request to the configured base URL,
so a local Twilio double (tests) or a proxy is reached whatever Twilio domain the SDK picks.
Credentials are passed explicitly and the SDK is given an environment of its own: it falls
back to ``os.environ`` for an empty one, and TWILIO_EDGE / TWILIO_REGION there would
rewrite the host.
The SDK's async client ignores its own timeout: every call is bounded here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifier.senders import SendError

T = TypeVar("T")

# Twilio errors that no retry can fix (README "SMS delivery and Twilio"); any other 4xx
# is final too.
PERMANENT_CODES = frozenset({20003, 21211, 21212, 21408, 21606, 21610, 21611, 21612, 21614})
# Calls (issue 16): 13223/13224 invalid number, 13225 forbidden destination, 13227 no
# international permission, 21210 / 21215 caller id not verified / geo permission, 21217
# invalid To. WhatsApp: 63003 the To address is not on WhatsApp, 63007 our sender is not a
# WhatsApp sender, 63016 outside the 24-hour window without an approved template.
PERMANENT_CODES |= {13223, 13224, 13225, 13227, 21210, 21215, 21217, 63003, 63007, 63016}
# Among them, the ones an operator can fix (credentials, the sender): worth a manual retry.
FIXABLE_CODES = frozenset({20003, 21212, 21606, 21611, 21210, 63007, 63016})
WHATSAPP = "whatsapp:"
RATE_LIMITED_CODE = 20429
# 5xx answers after which Twilio may still have accepted the message (503 means it did not).
MAYBE_ACCEPTED_STATUS = frozenset({500, 502, 504})

FORM = "application/x-www-form-urlencoded"
# Not empty: the SDK reads os.environ instead of an empty mapping.
_NO_EDGE_OR_REGION = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}
# The SDK logs every request (URL, query, headers) at INFO: phones have no place in our logs.
_sdk_log = logging.getLogger("phonegate.twilio.http")
_sdk_log.setLevel(logging.WARNING)


class BaseUrlHttpClient(AsyncTwilioHttpClient):
    """The SDK's async HTTP client with our transport: every request to the configured base
    URL, credentials as a header, the form encoded once by ``urlencode``, and nothing
    logged. Subclassing the HTTP client is the SDK's own seam; the request it builds and
    the answer it parses are untouched.

    The base class logs each request by formatting a dozen strings before its logger
    drops them, keeps test-only copies of the request and answer, and hands the form to
    aiohttp as a dict, which aiohttp turns into a FormData object field by field: a third
    of the CPU of a send (``uv run bench/sms_cpu.py``)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(logger=_sdk_log)
        self.base = urlsplit(base_url)

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature; bounded by the caller
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        target = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        all_headers = dict(headers or {})
        if auth is not None:  # as a header: aiohttp 3.14 deprecates its BasicAuth
            all_headers["Authorization"] = _basic(*auth)
        body = None
        if data:
            body = urlencode(data, doseq=True).encode()
            all_headers["Content-Type"] = FORM
        async with self.session.request(
            method.upper(),
            target,
            params=params or None,
            data=body,
            headers=all_headers,
            allow_redirects=allow_redirects,
        ) as answer:
            return Response(answer.status, await answer.text(), answer.headers)


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


class TwilioSender:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        base_url: str = "https://api.twilio.com",
        timeout_seconds: float = 10.0,
        whatsapp_from: str = "",
    ) -> None:
        self.http = BaseUrlHttpClient(base_url)
        self.client = Client(
            account_sid, auth_token, http_client=self.http, environment=_NO_EDGE_OR_REGION
        )
        # The SDK imports its API modules on first use (half a second, blocking): done here,
        # at start, not on the event loop in the middle of serving requests.
        self.messages = self.client.messages
        self.calls = self.client.calls
        # A call needs a number to call from (a Messaging Service cannot call); WhatsApp its
        # own registered sender (TWILIO_WHATSAPP_FROM).
        self.voice_from = from_number
        self.whatsapp_from = whatsapp_from
        self.sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self.timeout = timeout_seconds

    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None, channel: str = "sms"
    ) -> str | None:
        extra = {"status_callback": status_callback} if status_callback else {}
        if channel == "voice":
            if not self.voice_from:
                raise SendError("no TWILIO_FROM_NUMBER to call from", transient=False, fixable=True)
            call = self.calls.create_async(to=to, from_=self.voice_from, twiml=body, **extra)
            return str((await self._bounded(call)).sid)
        if channel == "whatsapp":
            if not self.whatsapp_from:
                raise SendError("no TWILIO_WHATSAPP_FROM", transient=False, fixable=True)
            create = self.messages.create_async(
                to=WHATSAPP + to, from_=WHATSAPP + self.whatsapp_from, body=body, **extra
            )
        else:
            create = self.messages.create_async(to=to, body=body, **self.sender, **extra)
        message = await self._bounded(create)
        return str(message.sid)

    async def find_sent(
        self, to: str, body: str, *, since: datetime, channel: str = "sms"
    ) -> list[str]:
        if channel == "voice":  # a call has no body: any call to the phone since the try
            calls = await self._bounded(self.calls.page_async(to=to, page_size=50))
            return [str(c.sid) for c in calls if c.date_created is None or c.date_created >= since]
        if channel == "whatsapp":
            to = WHATSAPP + to
        page = await self._bounded(self.messages.page_async(to=to, page_size=50))
        return [
            str(m.sid)
            for m in page
            if m.body
            and body in m.body  # a trial account prefixes the body
            and (m.date_created is None or m.date_created >= since)
        ]

    async def close(self) -> None:
        await self.http.close()

    async def _bounded(self, call: Awaitable[T]) -> T:
        """One SDK call, bounded in time, its failure translated into a SendError."""
        try:
            return await asyncio.wait_for(call, timeout=self.timeout)
        except TimeoutError:
            raise SendError(
                "Twilio did not answer in time", transient=True, uncertain=True
            ) from None
        except TwilioRestException as e:
            raise classify(e.status, e.code) from None
        except TwilioException as e:
            raise classify(_status_of(e), getattr(e, "code", None)) from None
        except aiohttp.ClientConnectorError as e:  # never connected: nothing was sent
            raise SendError(f"cannot reach Twilio ({type(e).__name__})", transient=True) from None
        except (aiohttp.ClientError, OSError) as e:
            raise SendError(
                f"connection to Twilio lost ({type(e).__name__})", transient=True, uncertain=True
            ) from None
        except ValueError:  # a 2xx answer that is not JSON
            raise SendError(
                "unreadable answer from Twilio", transient=True, uncertain=True
            ) from None


def classify(status: int, code: Any) -> SendError:
    """What a Twilio error answer means for the message (README "SMS delivery and Twilio")."""
    number = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    transient = (
        status == 429
        or status >= 500
        or number == RATE_LIMITED_CODE
        or (number is not None and 20500 <= number < 20600)
    )
    if number in PERMANENT_CODES:
        transient = False
    return SendError(
        f"Twilio refused (HTTP {status})",
        code=number or status,
        transient=transient,
        uncertain=transient and status in MAYBE_ACCEPTED_STATUS,
        fixable=number in FIXABLE_CODES or status in (401, 403),
    )


def _status_of(error: TwilioException) -> int:
    """The HTTP status of an SDK error: an attribute, or the response it carries."""
    status = getattr(error, "status", None)
    if status is None:
        response = next((a for a in error.args if isinstance(a, Response)), None)
        status = response.status_code if response is not None else 0
    return int(status)

"""The Twilio sender: the official SDK's async client, pointed at TWILIO_API_BASE_URL.

The HTTP client rewrites the scheme and host of every request to the configured base URL,
so a local Twilio double (tests) or a proxy is reached whatever Twilio domain the SDK picks,
and stray TWILIO_EDGE / TWILIO_REGION variables cannot redirect it (``environment={}``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifier.senders import SendError

# Twilio errors that no retry can fix (TWILIO.md); anything else 4xx is also final.
PERMANENT_CODES = frozenset({20003, 21211, 21212, 21408, 21606, 21610, 21611, 21612, 21614})
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class BaseUrlHttpClient(AsyncTwilioHttpClient):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base = urlsplit(base_url)

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        rewritten = urlunsplit(
            (self.base.scheme, self.base.netloc, parts.path, parts.query, parts.fragment)
        )
        kwargs["timeout"] = None  # bounded by the caller with asyncio.wait_for
        return await super().request(method, rewritten, *args, **kwargs)


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
    ) -> None:
        self.http = BaseUrlHttpClient(base_url)
        self.client = Client(account_sid, auth_token, http_client=self.http, environment={})
        self.sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self.timeout = timeout_seconds

    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None
    ) -> str | None:
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            message = await asyncio.wait_for(
                self.client.messages.create_async(to=to, body=body, **self.sender, **extra),
                timeout=self.timeout,
            )
        except TimeoutError:
            raise SendError("Twilio did not answer in time", transient=True) from None
        except TwilioRestException as e:
            raise _classify(e.status, e.code) from None
        except TwilioException as e:
            status = int(getattr(e, "status", 0) or 0)
            raise _classify(status, getattr(e, "code", None)) from None
        except (aiohttp.ClientError, OSError) as e:
            raise SendError(f"cannot reach Twilio ({type(e).__name__})", transient=True) from None
        return str(message.sid)

    async def close(self) -> None:
        await self.http.close()


def _classify(status: int, code: Any) -> SendError:
    code_int = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    transient = (
        status in TRANSIENT_STATUS
        or code_int == 20429
        or (code_int is not None and 20500 <= code_int < 20600)
    )
    if code_int in PERMANENT_CODES:
        transient = False
    return SendError(
        f"Twilio refused (HTTP {status})", code=code_int or status, transient=transient
    )

"""Cookie mode (REFRESH_COOKIE=on): the refresh token travels in a cookie, never in the JSON.

The point of the cookie is that no script ever sees the refresh token: it is ``HttpOnly``,
so a page's JavaScript (and anything injected into it) cannot read it, and in cookie mode
``Session.refreshToken`` is null in the answer. The page keeps only the short-lived access
token in memory; on load it calls ``refreshSession`` without an argument and the browser
sends the cookie, so a reload keeps the person logged in.

Cross-site use is refused three times over: ``SameSite=Strict`` (the browser sends the
cookie only with requests from phonegate's own site), ``Path=/graphql``, and the endpoint
itself, which takes only ``application/json`` POSTs for mutations (a form or a
``text/plain`` POST is a 400, a JSON POST from another origin needs a CORS preflight that
only ``CORS_ORIGINS`` pass). ``Secure`` outside development (APP_ENV=development serves
plain http on localhost). Max-Age is the refresh token's own life: the idle limit, never
past the session's maximum age.
"""

from __future__ import annotations

from core.clock import now
from resolvers.tokens import IssuedSession
from schema.context import Context
from schema.types import Session

NAME = "phonegate_refresh"
PATH = "/graphql"


def enabled(ctx: Context) -> bool:
    return ctx.deps.settings.refresh_cookie == "on"


def token_given(ctx: Context, argument: str | None) -> str | None:
    """The refresh token of a request: the argument if given, else in cookie mode the
    cookie's."""
    if argument is not None or not enabled(ctx):
        return argument
    return ctx.request.cookies.get(NAME)


def answer(ctx: Context, issued: IssuedSession) -> Session:
    """The Session to answer; in cookie mode the refresh token goes into the cookie and the
    JSON's ``refreshToken`` is null."""
    session = Session.of(issued)
    if not enabled(ctx) or ctx.response is None:
        return session
    max_age = max(0, int((issued.refresh_expires_at - now()).total_seconds()))
    ctx.response.set_cookie(
        NAME,
        issued.refresh_token,
        max_age=max_age,
        path=PATH,
        secure=ctx.deps.settings.app_env != "development",
        httponly=True,
        samesite="strict",
    )
    session.refresh_token = None
    return session


def clear(ctx: Context) -> None:
    """Forget the cookie (its session ended, or its token is no longer current)."""
    if enabled(ctx) and ctx.response is not None:
        ctx.response.delete_cookie(
            NAME,
            path=PATH,
            secure=ctx.deps.settings.app_env != "development",
            httponly=True,
            samesite="strict",
        )

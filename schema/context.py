"""The typed per-request context: dependencies, the client address and the caller."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from resolvers import sessions
from resolvers.deps import Client, Deps
from resolvers.sessions import Caller


@dataclass
class Context:
    deps: Deps
    request: Request
    client: Client
    response: Response | None = None  # headers set here (a cookie) go out with the answer

    async def caller(self) -> Caller | None:
        """The authenticated caller. Looked up for each field, not once per request, so an
        aliased field after a password change already sees the old session ended."""
        return await sessions.authenticate(self.deps, self.request.headers.get("authorization"))


Info = StrawberryInfo[Context, None]

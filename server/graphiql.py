"""GraphiQL on GET /graphql (development), working offline.

Its assets (React, GraphiQL and the explorer plugin, pinned in clients/graphiql/package.json
and package-lock.json) are fetched from the npm registry by ``npm ci --prefix
clients/graphiql`` (integrity-checked against the lock; never committed) and served by
phonegate itself under /graphiql/<name>, with a Content-Security-Policy that allows nothing
from elsewhere. Without them the page loads the same files from unpkg.com, as Strawberry's
page does, and the log says so once. Either way each file carries its sha384 (subresource
integrity): the browser refuses a file that is not the pinned release.

The default tab holds the walkthrough's first document (clients/operations/Signup.graphql)
with its variables, under a comment on how to send the access token.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

log = logging.getLogger("phonegate.graphiql")

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
FOLDER = CLIENTS / "graphiql"
DEFAULT_ASSETS = FOLDER / "node_modules"
FETCH_COMMAND = "npm ci --prefix clients/graphiql"
CDN = "https://unpkg.com"


@dataclass(frozen=True)
class Asset:
    path: str  # under node_modules (and under the CDN's package@version)
    package: str  # name@version on the CDN
    integrity: str  # sha384, as the lock pins the release

    @property
    def cdn_url(self) -> str:
        name = self.package.rsplit("@", 1)[0]
        return f"{CDN}/{self.package}/{self.path.removeprefix(name + '/')}"


ASSETS = {
    "react.js": Asset(
        "react/umd/react.production.min.js",
        "react@18.2.0",
        "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    "react-dom.js": Asset(
        "react-dom/umd/react-dom.production.min.js",
        "react-dom@18.2.0",
        "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    "graphiql.js": Asset(
        "graphiql/graphiql.min.js",
        "graphiql@3.8.3",
        "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    ),
    "graphiql.css": Asset(
        "graphiql/graphiql.min.css",
        "graphiql@3.8.3",
        "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    ),
    "explorer.js": Asset(
        "@graphiql/plugin-explorer/dist/index.umd.js",
        "@graphiql/plugin-explorer@1.0.2",
        "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
    ),
    "explorer.css": Asset(
        "@graphiql/plugin-explorer/dist/style.css",
        "@graphiql/plugin-explorer@1.0.2",
        "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
    ),
}
STYLES = ("graphiql.css", "explorer.css")
SCRIPTS = ("react.js", "react-dom.js", "graphiql.js", "explorer.js")
START = FOLDER / "start.js"  # ours, committed

DEFAULT_COMMENT = """\
# phonegate: the walkthrough's first step (README, "Walkthrough"). Run it (Ctrl-Enter or
# the play button) with the variables below; the code arrives in the server's log.
# Next: VerifyPhone (clients/operations/VerifyPhone.graphql) with that code.
#
# Logged-in operations (Me, SetTwoFactor, ChangePassword, ...) need the accessToken that
# VerifyPhone or Login answers: open "Headers" below the editor and enter
#   { "Authorization": "Bearer <accessToken>" }
#
"""
DEFAULT_VARIABLES = (
    '{ "input": { "phone": "+1 415 555 0123", "password": "violet tractor oboe 77", '
    '"username": "ada" } }'
)


def csp(sources: str) -> str:
    return (
        f"default-src 'none'; script-src {sources}; style-src {sources} 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class GraphiQLPage:
    """The page and its asset route; local assets when ``folder`` holds them."""

    def __init__(self, folder: str | Path = "") -> None:
        self.folder = Path(folder) if folder else DEFAULT_ASSETS
        self.local = all((self.folder / asset.path).is_file() for asset in ASSETS.values())
        self.warned = False

    def url(self, name: str) -> str:
        return f"/graphiql/{name}" if self.local else ASSETS[name].cdn_url

    def render(self, request: Request) -> Response:
        if not self.local and not self.warned:
            self.warned = True
            log.warning(
                "GraphiQL assets not found in %s: the page loads them from %s (needs "
                "internet). Fetch them once with `%s`.",
                self.folder,
                CDN,
                FETCH_COMMAND,
            )
        signup = (CLIENTS / "operations" / "Signup.graphql").read_text()
        defaults = {
            "url": request.url.path,
            "query": DEFAULT_COMMENT + signup,
            "variables": DEFAULT_VARIABLES,
        }
        data = json.dumps(defaults).replace("<", "\\u003c")  # cannot end the script element
        styles = "".join(
            f'<link rel="stylesheet" href="{self.url(n)}" integrity="{ASSETS[n].integrity}"'
            ' crossorigin="anonymous">\n'
            for n in STYLES
        )
        scripts = "".join(
            f'<script src="{self.url(n)}" integrity="{ASSETS[n].integrity}"'
            ' crossorigin="anonymous"></script>\n'
            for n in SCRIPTS
        )
        page = PAGE.format(
            styles=styles,
            scripts=scripts,
            defaults=data,
            origin=html.escape("this server" if self.local else CDN),
        )
        sources = "'self'" if self.local else f"'self' {CDN}"
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": csp(sources),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def routes(self) -> list[Route]:
        async def asset(request: Request) -> Response:
            name = request.path_params["name"]
            if name == "start.js":
                path = START
            elif name in ASSETS and self.local:
                path = self.folder / ASSETS[name].path
            else:
                return Response("Not Found", status_code=404, media_type="text/plain")
            kind = "text/css" if name.endswith(".css") else "text/javascript"
            return FileResponse(
                path,
                media_type=f"{kind}; charset=utf-8",
                headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
            )

        return [Route("/graphiql/{name}", asset, methods=["GET"])]


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>phonegate GraphiQL</title>
<link rel="icon" href="data:,">
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
{styles}</head>
<body>
<div id="graphiql">Loading GraphiQL from {origin}...</div>
<script type="application/json" id="graphiql-defaults">{defaults}</script>
{scripts}<script src="/graphiql/start.js"></script>
</body>
</html>
"""

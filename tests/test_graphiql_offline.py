"""GraphiQL on GET /graphql with its assets served by phonegate itself (fetched by
`npm ci --prefix clients/graphiql`), under a Content-Security-Policy that allows nothing
from elsewhere; without them, the CDN, said once in the log. The browser test opens the page
in headless Chromium with every request outside 127.0.0.1 blocked and runs a query.

Outside CI the tests that need the fetched assets skip when they are absent, and the browser
test skips without /usr/bin/chromium (as tests/test_spa_browser.py does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.settings import Settings
from server.graphiql import ASSETS, DEFAULT_ASSETS, FETCH_COMMAND
from tests.support import RecordingSender
from tests.test_spa_browser import CHROMIUM_ARGS, IN_CI, live_server

HTML = {"Accept": "text/html"}
SIGNUP = (Path(__file__).resolve().parent.parent / "clients/operations/Signup.graphql").read_text()


@pytest.fixture
def fetched() -> Path:
    if not all((DEFAULT_ASSETS / asset.path).is_file() for asset in ASSETS.values()):
        if IN_CI:
            pytest.fail(f"GraphiQL's assets are required in CI: .ci/run runs `{FETCH_COMMAND}`")
        pytest.skip(f"GraphiQL's assets not fetched (`{FETCH_COMMAND}`)")
    return DEFAULT_ASSETS


def defaults_of(page: str) -> dict[str, str]:
    match = re.search(
        r'<script type="application/json" id="graphiql-defaults">(.*?)</script>', page
    )
    assert match
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def sources_of(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


async def test_the_page_loads_everything_from_this_server_under_a_strict_csp(fetched, api):
    # when
    page = await api.http.get("/graphql", headers=HTML)
    # then
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "http" not in policy and "default-src 'none'" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    sources = [s for s in sources_of(page.text) if s != "data:,"]
    assert len(sources) == 7 and all(s.startswith("/graphiql/") for s in sources)
    for src in sources:
        answer = await api.http.get(src)
        assert answer.status_code == 200, src


async def test_each_served_asset_is_the_pinned_release(fetched, api):
    page = (await api.http.get("/graphql", headers=HTML)).text
    for name, asset in ASSETS.items():
        body = (await api.http.get(f"/graphiql/{name}")).content
        digest = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
        assert digest == asset.integrity, name
        assert f'integrity="{asset.integrity}"' in page


async def test_the_default_tab_is_the_walkthrough_signup_with_the_authorization_hint(api):
    page = (await api.http.get("/graphql", headers=HTML)).text
    defaults = defaults_of(page)
    assert defaults["query"].endswith(SIGNUP)
    assert '{ "Authorization": "Bearer <accessToken>" }' in defaults["query"]
    assert json.loads(defaults["variables"])["input"]["password"]


async def test_without_assets_the_page_uses_the_cdn_and_says_so_once(
    make_settings, start_app, caplog
):
    # given
    settings = make_settings(GRAPHIQL_ASSETS="/nonexistent/graphiql-assets")
    async with start_app(settings) as api:
        with caplog.at_level(logging.WARNING, logger="phonegate.graphiql"):
            # when
            first = await api.http.get("/graphql", headers=HTML)
            await api.http.get("/graphql", headers=HTML)
            local = await api.http.get("/graphiql/graphiql.js")
    # then
    sources = [s for s in sources_of(first.text) if s.startswith("http")]
    assert len(sources) == 6 and all(s.startswith("https://unpkg.com/") for s in sources)
    assert "https://unpkg.com" in first.headers["content-security-policy"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "phonegate.graphiql"]
    assert len(warnings) == 1 and FETCH_COMMAND in warnings[0]
    assert local.status_code == 404


async def test_production_serves_neither_the_page_nor_its_assets(make_settings, start_app):
    production = {
        "APP_ENV": "production",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    async with start_app(make_settings(**production), sender=RecordingSender()) as api:
        page = await api.http.get("/graphql", headers=HTML)
        asset = await api.http.get("/graphiql/start.js")
    assert page.status_code == 404 and "errors" in page.json()
    assert asset.status_code == 404


@pytest.fixture
def chromium() -> Path:
    path = Path("/usr/bin/chromium")
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is required in CI (.ci/extra-setup installs chromium)")
        pytest.skip(f"{path} not installed (apt-get install chromium)")
    return path


def test_graphiql_runs_a_query_in_chromium_with_everything_off_127_0_0_1_blocked(
    fetched, chromium: Path, make_settings: Callable[..., Settings]
):
    from playwright.sync_api import expect, sync_playwright

    # given
    blocked: list[str] = []
    problems: list[str] = []
    settings = make_settings()
    with (
        live_server(settings, RecordingSender()) as base,
        tempfile.TemporaryDirectory(prefix="graphiql-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )

        def only_loopback(route) -> None:  # type: ignore[no-untyped-def]
            host = urlsplit(route.request.url).hostname
            if host == "127.0.0.1" or route.request.url.startswith("data:"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        browser.route("**/*", only_loopback)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )

        # when: the page opens, with the walkthrough's signup in its default tab
        page.goto(f"{base}/graphql")
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        expect(editor).to_contain_text("mutation Signup")
        expect(editor).to_contain_text("Authorization")
        # and the default tab runs as it is, with the walkthrough's variables
        variables = page.locator(".graphiql-editor-tool .graphiql-editor .CodeMirror").first
        expect(variables).to_contain_text('"password": "violet tractor oboe 77"')
        page.click(".graphiql-execute-button")
        result = page.locator(".graphiql-response")
        expect(result).to_contain_text('"__typename": "VerificationSent"')
        # and another query runs
        page.evaluate(
            """() => document.querySelector('.graphiql-query-editor .CodeMirror')
                .CodeMirror.setValue('query Free { usernameAvailable(username: "graphiql_ok") }')"""
        )
        # GraphiQL reads the operation's name from the editor after a debounce: before it,
        # it would send the old name ("Signup"), which the server answers as a GraphQL error
        page.wait_for_timeout(1000)
        started = time.monotonic()
        page.click(".graphiql-execute-button")
        expect(result).to_contain_text('"usernameAvailable": true')
        page.screenshot(path=str(Path(profile) / "graphiql.png"))
        browser.close()

    # then: nothing was asked of another host, and nothing failed in the page
    assert blocked == []
    assert problems == [], problems
    assert time.monotonic() - started < 15

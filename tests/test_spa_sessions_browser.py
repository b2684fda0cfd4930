"""The reference SPA in cookie mode (issue 13), in headless Chromium: a reload keeps the
person logged in, two tabs refreshing at the same moment both stay logged in, a logout in
one tab logs the other out on its next call, and the "Your sessions" card ends a session.

The pattern of tests/test_spa_browser.py (a real server under uvicorn in a thread, Debian's
/usr/bin/chromium through Playwright), with REFRESH_COOKIE=on and APP_ENV=development (the
page is served over plain http here, where a Secure cookie would not be kept).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests import documents as d
from tests.support import STRONG_PASSWORD, RecordingSender, new_phone
from tests.test_spa_browser import CHROMIUM, CHROMIUM_ARGS, IN_CI, live_server, sms_code

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"


@pytest.fixture
def browser_binary() -> Path:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/extra-setup installs chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


def graphql(base: str, query: str, variables: dict[str, Any], **headers: str) -> Any:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    (value,) = response.json()["data"].values()
    return value


def account(base: str, sender: RecordingSender) -> str:
    """A verified account made over HTTP (the SPA's own signup is walked elsewhere)."""
    phone = new_phone()
    sent = graphql(base, d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    code = sms_code(sender, phone, "verify_signup")
    verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
    assert graphql(base, d.VERIFY_PHONE, {"input": verify})["__typename"] == "Session"
    return phone


@contextlib.contextmanager
def cookie_mode_page(
    browser_binary: Path, make_settings: Callable[..., Settings]
) -> Iterator[tuple[str, RecordingSender, Any]]:
    """(the server's URL, its SMS sender, a Chromium context with its own cookie jar)."""
    from playwright.sync_api import sync_playwright

    sender = RecordingSender()
    settings = make_settings(APP_ENV="development", REFRESH_COOKIE="on")
    with (
        live_server(settings, sender) as base,
        tempfile.TemporaryDirectory(prefix="spa-sessions-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(browser_binary), headless=True, args=CHROMIUM_ARGS
        )
        context.set_default_timeout(10_000)
        try:
            yield base, sender, context
        finally:
            context.close()


def open_page(context: Any, base: str, problems: list[str]) -> Any:
    from playwright.sync_api import expect

    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{base}/")
    expect(page.locator("body[data-ready='1']")).to_be_attached()
    return page


def log_in(page: Any, phone: str) -> None:
    from playwright.sync_api import expect

    page.fill("#login-form [name=identifier]", phone)
    page.fill("#login-form [name=password]", STRONG_PASSWORD)
    page.click("#login-form [type=submit]")
    expect(page.locator("#view-account")).to_be_visible()
    expect(page.locator("[data-me=phone]")).to_have_text(phone)


def test_a_reload_keeps_the_person_logged_in(browser_binary, make_settings):
    from playwright.sync_api import expect

    problems: list[str] = []
    with cookie_mode_page(browser_binary, make_settings) as (base, sender, context):
        phone = account(base, sender)
        page = open_page(context, base, problems)
        expect(page.locator("#view-start")).to_be_visible()
        log_in(page, phone)
        # when
        page.reload()
        expect(page.locator("body[data-ready='1']")).to_be_attached()
        # then: `me` still shows the account, and no script can read the refresh token
        expect(page.locator("#view-account")).to_be_visible()
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
        assert page.evaluate("document.cookie") == ""
        (cookie,) = [c for c in context.cookies() if c["name"] == "phonegate_refresh"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/graphql"
    assert problems == []


def test_two_tabs_refreshing_at_the_same_moment_both_stay_logged_in(browser_binary, make_settings):
    from playwright.sync_api import expect

    problems: list[str] = []
    with cookie_mode_page(browser_binary, make_settings) as (base, sender, context):
        phone = account(base, sender)
        first = open_page(context, base, problems)
        log_in(first, phone)
        second = open_page(context, base, problems)  # restored by the cookie
        expect(second.locator("[data-me=phone]")).to_have_text(phone)
        # when: both tabs refresh at the same instant, with the same cookie
        at = int(time.time() * 1000) + 700
        arm = """at => { window.refreshed = new Promise(done => setTimeout(
                   async () => done(await (await import('/session.js')).refresh()),
                   at - Date.now())); }"""
        first.evaluate(arm, at)
        second.evaluate(arm, at)
        results = [first.evaluate("window.refreshed"), second.evaluate("window.refreshed")]
        # then: both refreshed, and both still read the account
        assert results == [True, True]
        for tab in (first, second):
            tab.click("#reload-me")
            expect(tab.locator("#view-account")).to_be_visible()
            expect(tab.locator("[data-me=phone]")).to_have_text(phone)
            expect(tab.locator("#session-status")).not_to_have_attribute("data-refreshes", "0")
        # and one session for both tabs (one login; the other is the HTTP signup's)
        expect(first.locator("#sessions-card li", has_text="Chrome on Linux")).to_have_count(1)
    assert problems == []


def test_logout_in_one_tab_logs_the_other_out_on_its_next_call(browser_binary, make_settings):
    from playwright.sync_api import expect

    problems: list[str] = []
    with cookie_mode_page(browser_binary, make_settings) as (base, sender, context):
        phone = account(base, sender)
        first = open_page(context, base, problems)
        log_in(first, phone)
        second = open_page(context, base, problems)
        expect(second.locator("[data-me=phone]")).to_have_text(phone)
        # when
        first.click("#logout-button")
        expect(first.locator("#view-start")).to_be_visible()
        second.click("#reload-me")
        # then
        expect(second.locator("#view-start")).to_be_visible()
        expect(second.locator("#notice")).to_contain_text("Please log in again")
        second.reload()
        expect(second.locator("body[data-ready='1']")).to_be_attached()
        expect(second.locator("#view-start")).to_be_visible()
    assert problems == []


def test_the_sessions_card_ends_another_device_session(browser_binary, make_settings):
    from playwright.sync_api import expect

    problems: list[str] = []
    with cookie_mode_page(browser_binary, make_settings) as (base, sender, context):
        phone = account(base, sender)
        handset = graphql(
            base,
            d.LOGIN,
            {"input": {"identifier": phone, "password": STRONG_PASSWORD}},
            **{"User-Agent": IPHONE},
        )
        page = open_page(context, base, problems)
        log_in(page, phone)
        card = page.locator("#sessions-card")
        # the signup's session (no browser agent), the iPhone's, and this one
        expect(card.locator("li")).to_have_count(3)
        expect(card.locator("li[data-current='1']")).to_contain_text("(this one)")
        expect(card.locator("li[data-current='1'] strong")).to_have_text("Chrome on Linux")
        iphone_row = card.locator("li", has_text="Safari on iOS")
        expect(iphone_row).to_have_count(1)
        # when
        iphone_row.get_by_role("button", name="End").click()
        # then: gone from the card, and the iPhone's token no longer works
        expect(card.locator("li")).to_have_count(2)
        expect(card.locator("li", has_text="Safari on iOS")).to_have_count(0)
        me = graphql(base, d.ME, {}, Authorization=f"Bearer {handset['accessToken']}")
        assert me is None
        # and "End all other sessions" leaves this one alone
        page.click("#end-other-sessions")
        expect(card.locator("li")).to_have_count(1)
        page.click("#reload-me")
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
    assert problems == []

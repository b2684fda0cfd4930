"""The reference SPA (clients/spa) end to end in headless Chromium, as a person uses it.

A real server (uvicorn in a thread, on a free loopback port) runs the app with a recording
SMS sender; Playwright drives Debian's /usr/bin/chromium (never a browser of its own) through
signup, verification, the automatic token refresh, two-factor login, password change,
identity change, logout, password reset and deletion, and through the typed errors on the
way, reading each code from the sender as a person reads the SMS. Every step leaves a
screenshot in artifacts/spa/<database>/ (gitignored).

Chromium is required in CI (CI=true; .ci/extra-setup installs it); elsewhere the test skips
when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from core.settings import Settings
from server.app import create_app
from tests.support import CODE_RE, OTHER_PASSWORD, STRONG_PASSWORD, RecordingSender, new_phone

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = ROOT / "artifacts" / "spa"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Short enough that the page must refresh its access token during the walk.
ACCESS_TTL_SECONDS = 6
FINAL_PASSWORD = "harbor pepper violin 31"
ERROR_TYPES = {
    "InvalidInput",
    "WeakPassword",
    "UsernameTaken",
    "PhoneTaken",
    "InvalidCode",
    "CodeExpired",
    "TooManyAttempts",
    "RateLimited",
    "InvalidCredentials",
    "PhoneNotVerified",
    "NotAuthenticated",
    "InvalidToken",
}


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/extra-setup installs chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def live_server(settings: Settings, sender: RecordingSender) -> Iterator[str]:
    """The app under uvicorn in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    app = create_app(settings, sender=sender)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="spa-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def sms_code(sender: RecordingSender, phone: str, action: str, count: int = 1) -> str:
    """The code of the count-th `action` SMS to `phone`, once the outbox sent it (a bound
    on liveness, not a timing: a CI dry run under the whole suite's load once missed 10 s)."""
    deadline = time.monotonic() + 30
    while len(sender.to(phone, action)) < count:
        assert time.monotonic() < deadline, f"no {action} SMS #{count} to {phone}"
        time.sleep(0.05)
    match = CODE_RE.search(sender.to(phone, action)[count - 1].body)
    assert match
    return match.group(1)


class Walk:
    """The page, and a numbered screenshot after each step."""

    def __init__(self, page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.step = 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=self.folder / f"{self.step:02d}-{name}.png", full_page=True)

    def fill(self, form: str, **values: str) -> None:
        for name, value in values.items():
            self.page.fill(f"{form} [name={name}]", value)

    def submit(self, form: str) -> None:
        self.page.click(f"{form} [type=submit]")

    def error(self, form: str):
        return self.page.locator(f"{form} .error")


def test_a_person_walks_every_flow_of_the_spa_in_chromium(
    chromium: Path, make_settings: Callable[..., Settings], db_kind: str
):
    from playwright.sync_api import expect, sync_playwright

    # given
    sender = RecordingSender()
    settings = make_settings(ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TTL_SECONDS))
    folder = ARTIFACTS / db_kind
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    phone, new = new_phone(), new_phone()
    problems: list[str] = []
    started = time.monotonic()

    with (
        live_server(settings, sender) as base,
        tempfile.TemporaryDirectory(prefix="spa-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        walk = Walk(page, folder)

        # when: the page loads from the app, at /
        page.goto(f"{base}/")
        expect(page.locator("body[data-ready='1']")).to_be_attached()
        expect(page.locator("#view-start")).to_be_visible()
        error_words = page.evaluate(
            "async () => Object.keys((await import('/errors.js')).ERROR_WORDS)"
        )
        assert set(error_words) == ERROR_TYPES
        walk.shot("start")

        # signup: typed errors first, in words
        walk.fill("#signup-form", phone="12", password=STRONG_PASSWORD)
        walk.submit("#signup-form")
        expect(walk.error("#signup-form")).to_have_attribute("data-type", "InvalidInput")
        expect(walk.error("#signup-form")).to_contain_text("Please check the phone number")
        walk.shot("signup-invalid-phone")
        walk.fill("#signup-form", phone=phone, password="password", username="Ada_spa")
        page.locator("#signup-form [name=username]").blur()
        expect(page.locator("#username-hint")).to_have_text("This username is available.")
        walk.submit("#signup-form")
        expect(walk.error("#signup-form")).to_have_attribute("data-type", "WeakPassword")
        expect(walk.error("#signup-form")).to_contain_text("choose a stronger password")
        walk.shot("signup-weak-password")
        walk.fill("#signup-form", password=STRONG_PASSWORD)
        walk.submit("#signup-form")
        expect(page.locator("#view-verify")).to_be_visible()
        expect(page.locator("#verify-hint")).to_contain_text(phone)
        walk.shot("verify-code-sent")

        # verification: an early resend is rate limited, a wrong code refused, then verified
        page.click("#resend-button")
        expect(walk.error("#verify-form")).to_have_attribute("data-type", "RateLimited")
        expect(walk.error("#verify-form")).to_contain_text(re.compile(r"wait \d+ seconds"))
        expect(page.locator("#resend-button")).to_be_disabled()
        walk.shot("verify-resend-rate-limited")
        code = sms_code(sender, phone, "verify_signup")
        wrong = "000000" if code != "000000" else "111111"
        walk.fill("#verify-form", code=wrong)
        walk.submit("#verify-form")
        expect(walk.error("#verify-form")).to_have_attribute("data-type", "InvalidCode")
        expect(walk.error("#verify-form")).to_contain_text("That code is not right")
        walk.shot("verify-wrong-code")
        walk.fill("#verify-form", code=code)
        walk.submit("#verify-form")
        expect(page.locator("#view-account")).to_be_visible()
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
        expect(page.locator("[data-me=username]")).to_have_text("Ada_spa")
        expect(page.locator("[data-me=isVerified]")).to_have_text("yes")
        walk.shot("account-after-verification")

        # the access token is refreshed before it expires, and `me` keeps working
        refreshes = page.locator("#session-status")
        expect(refreshes).to_have_attribute(
            "data-refreshes", re.compile(r"^[1-9]"), timeout=ACCESS_TTL_SECONDS * 3000
        )
        page.wait_for_timeout(ACCESS_TTL_SECONDS * 1000)  # past the first token's expiry
        page.click("#reload-me")
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
        expect(page.locator("#account-error")).to_be_hidden()
        walk.shot("account-after-token-refresh")

        # two-factor on (a wrong password first), then log out
        walk.fill("#two-factor-form", currentPassword="not my password")
        walk.submit("#two-factor-form")
        expect(walk.error("#two-factor-form")).to_have_attribute("data-type", "InvalidCredentials")
        walk.fill("#two-factor-form", currentPassword=STRONG_PASSWORD)
        walk.submit("#two-factor-form")
        expect(page.locator("[data-me=twoFactorEnabled]")).to_have_text("on")
        walk.shot("two-factor-on")
        page.click("#logout-button")
        expect(page.locator("#view-start")).to_be_visible()
        expect(page.locator("#notice")).to_have_text("Logged out.")
        walk.shot("logged-out")

        # login: a wrong password, then the second factor
        walk.fill("#login-form", identifier="ada_spa", password="wrong password here")
        walk.submit("#login-form")
        expect(walk.error("#login-form")).to_have_attribute("data-type", "InvalidCredentials")
        expect(walk.error("#login-form")).to_contain_text("reset your password")
        walk.shot("login-wrong-password")
        walk.fill("#login-form", identifier="ada_spa", password=STRONG_PASSWORD)
        walk.submit("#login-form")
        expect(page.locator("#view-second-factor")).to_be_visible()
        expect(page.locator("#second-factor-hint")).to_contain_text(phone[-4:])
        walk.shot("login-second-factor")
        walk.fill("#second-factor-form", code=sms_code(sender, phone, "login_code"))
        walk.submit("#second-factor-form")
        expect(page.locator("#view-account")).to_be_visible()
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
        walk.shot("account-after-two-factor-login")

        # password change: the page keeps going on the fresh session
        walk.fill("#password-form", currentPassword=STRONG_PASSWORD, newPassword=OTHER_PASSWORD)
        walk.submit("#password-form")
        expect(page.locator("#notice")).to_contain_text("Your password is changed")
        page.click("#reload-me")
        expect(page.locator("[data-me=phone]")).to_have_text(phone)
        walk.shot("password-changed")

        # identity change: new phone and username, confirmed by the code sent to the new phone
        walk.fill("#identity-form", currentPassword=OTHER_PASSWORD, phone=new, username="Lin_spa")
        walk.submit("#identity-form")
        expect(page.locator("#identity-confirm-form")).to_be_visible()
        expect(page.locator("#identity-confirm-hint")).to_contain_text(new[-4:])
        walk.shot("identity-change-pending")
        walk.fill("#identity-confirm-form", code=sms_code(sender, new, "identity_change"))
        walk.submit("#identity-confirm-form")
        expect(page.locator("[data-me=phone]")).to_have_text(new)
        expect(page.locator("[data-me=username]")).to_have_text("Lin_spa")
        walk.shot("identity-changed")

        # logout everywhere, then a forgotten password is reset by SMS
        page.click("#logout-everywhere-button")
        expect(page.locator("#view-start")).to_be_visible()
        page.click("#forgot-button")
        walk.fill("#reset-request-form", phone=new)
        walk.submit("#reset-request-form")
        expect(page.locator("#reset-form")).to_be_visible()
        walk.shot("reset-code-sent")
        code = sms_code(sender, new, "reset_password")
        walk.fill("#reset-form", code=code, newPassword="short")
        walk.submit("#reset-form")
        expect(walk.error("#reset-form")).to_have_attribute("data-type", "WeakPassword")
        walk.fill("#reset-form", newPassword=FINAL_PASSWORD)
        walk.submit("#reset-form")
        expect(page.locator("#view-start")).to_be_visible()
        expect(page.locator("#notice")).to_contain_text("Password reset")
        walk.shot("password-reset")

        # log in with the new password (second factor still on) and delete the account
        walk.fill("#login-form", identifier=new, password=FINAL_PASSWORD)
        walk.submit("#login-form")
        walk.fill("#second-factor-form", code=sms_code(sender, new, "login_code"))
        walk.submit("#second-factor-form")
        expect(page.locator("#view-account")).to_be_visible()
        walk.fill("#delete-form", currentPassword=FINAL_PASSWORD)
        walk.submit("#delete-form")
        expect(page.locator("#view-start")).to_be_visible()
        expect(page.locator("#notice")).to_have_text("Account deleted.")
        walk.shot("account-deleted")
        walk.fill("#login-form", identifier=new, password=FINAL_PASSWORD)
        walk.submit("#login-form")
        expect(walk.error("#login-form")).to_have_attribute("data-type", "InvalidCredentials")

        # the refresh token never reached storage another script could read
        stored = page.evaluate(
            "() => [Object.keys(localStorage), Object.keys(sessionStorage), document.cookie]"
        )
        browser.close()

    # then
    assert stored == [[], [], ""]
    assert problems == []
    assert sender.to(new, "account_deleted")
    print(f"SPA walk on {db_kind}: {walk.step} steps in {time.monotonic() - started:.1f} s")

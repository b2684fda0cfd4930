"""The reference page's second factors beyond SMS (clients/spa/second_factors.js) in headless
Chromium, as a person uses them, and as an attacker with the page open would look for them.

Like tests/test_spa_browser.py: a real server in a thread with a recording SMS sender,
Debian's /usr/bin/chromium driven by Playwright. The person sets up an authenticator app:
the test reads the QR code the page drew (a screenshot of the canvas, decoded with
zxing-cpp, as a phone app would scan it), computes codes from the otpauth:// URI it holds
with pyotp, saves the recovery codes with the Copy button, logs in with the app and with a
recovery code (the same code twice is refused), resets the password by SMS (refused until
the second factor is given), reads the "Recent activity" card, makes new recovery codes and
turns the app off. The TOTP secret and the recovery codes must never reach web storage, a
cookie, the page's URL or any request URL. Screenshots go to artifacts/spa-2fa/<database>/.
Without the QR library the page says what to run and the key typed into an app works.

The QR library is fetched by `npm ci --prefix clients/spa` (.ci/run does); outside CI the
tests skip without it or without Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

from core.settings import Settings
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, RecordingSender, new_phone
from tests.test_spa_browser import CHROMIUM_ARGS, IN_CI, ROOT, Walk, live_server, sms_code

SPA = ROOT / "clients" / "spa"
QR_LIBRARY = SPA / "node_modules" / "qrcode-generator" / "dist" / "qrcode.js"
FETCH_COMMAND = "npm ci --prefix clients/spa"
ARTIFACTS = ROOT / "artifacts" / "spa-2fa"
RECOVERY_CODE_RE = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")


@pytest.fixture
def qr_library() -> Path:
    if not QR_LIBRARY.is_file():
        if IN_CI:
            pytest.fail(f"the page's QR library is required in CI: .ci/run runs `{FETCH_COMMAND}`")
        pytest.skip(f"the page's QR library is not fetched (`{FETCH_COMMAND}`)")
    return QR_LIBRARY


@pytest.fixture
def chromium(qr_library: Path) -> Path:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        if IN_CI:
            pytest.fail(f"{chromium} is required in CI (.ci/extra-setup installs chromium)")
        pytest.skip(f"{chromium} not installed (apt-get install chromium)")
    return chromium


def pinned_integrity() -> str:
    match = re.search(r'integrity: "(sha384-[^"]+)"', (SPA / "second_factors.js").read_text())
    assert match
    return match.group(1)


async def test_the_page_serves_the_pinned_qr_library_from_this_server(qr_library, api):
    # when
    served = await api.http.get("/node_modules/qrcode-generator/dist/qrcode.js")
    # then: the release the lock pins, whose sha384 the page asks the browser to check
    assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
    assert f"sha384-{digest}" == pinned_integrity(), (
        "clients/spa/second_factors.js QR_SCRIPT.integrity is not the fetched file's sha384"
    )
    lock = (SPA / "package-lock.json").read_text()
    assert '"node_modules/qrcode-generator": {\n      "version": "2.0.4"' in lock


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a screenshot, as a phone's scanner reads it."""
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} barcodes in the screenshot"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(found[0].text)


def test_a_person_sets_up_and_uses_an_authenticator_app_in_chromium(
    chromium: Path, make_settings: Callable[..., Settings], db_kind: str
):
    from playwright.sync_api import expect, sync_playwright

    # given
    sender = RecordingSender()
    settings = make_settings()
    folder = ARTIFACTS / db_kind
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    phone = new_phone()
    problems: list[str] = []
    requested: list[str] = []

    with (
        live_server(settings, sender) as base,
        tempfile.TemporaryDirectory(prefix="spa-2fa-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("request", lambda request: requested.append(request.url))
        walk = Walk(page, folder)

        def log_in(password: str) -> None:
            walk.fill("#login-form", identifier=phone, password=password)
            walk.submit("#login-form")

        def second_step(method: str, code: str) -> None:
            expect(page.locator("#view-second-factor")).to_be_visible()
            page.check(f"#second-factor-methods [value={method}]")
            walk.fill("#second-factor-form", code=code)
            walk.submit("#second-factor-form")

        def log_out() -> None:
            page.click("#logout-button")
            expect(page.locator("#view-start")).to_be_visible()

        def secrets_left_behind(secrets: list[str]) -> list[str]:
            """Each secret found in web storage, a cookie, the URL or a request URL."""
            kept = page.evaluate(
                """() => JSON.stringify([
                    Object.entries(localStorage), Object.entries(sessionStorage),
                    document.cookie, location.href, history.length])"""
            )
            places = [kept.lower(), *(url.lower() for url in requested)]
            return [s for s in secrets if any(s.lower() in place for place in places)]

        # a verified account, logged in
        page.goto(f"{base}/")
        expect(page.locator("body[data-ready='1']")).to_be_attached()
        walk.fill("#signup-form", phone=phone, password=STRONG_PASSWORD)
        walk.submit("#signup-form")
        walk.fill("#verify-form", code=sms_code(sender, phone, "verify_signup"))
        walk.submit("#verify-form")
        expect(page.locator("#view-account")).to_be_visible()
        expect(page.locator("#totp-status")).to_have_attribute("data-totp", "off")
        expect(page.locator("#activity-table tr[data-kind=signup]")).to_have_count(1)
        walk.shot("account-totp-off")

        # when: set up the app (a wrong password first): the page draws the QR code
        walk.fill("#totp-setup-form", currentPassword="not my password")
        walk.submit("#totp-setup-form")
        expect(walk.error("#totp-setup-form")).to_have_attribute("data-type", "InvalidCredentials")
        walk.fill("#totp-setup-form", currentPassword=STRONG_PASSWORD)
        walk.submit("#totp-setup-form")
        expect(page.locator("#totp-confirm-form")).to_be_visible()
        qr = page.locator("#totp-qr")
        expect(qr).to_be_visible()
        walk.shot("totp-qr-code")
        uri = decode_qr(qr.screenshot())
        app = pyotp.parse_uri(uri)
        assert isinstance(app, pyotp.TOTP) and uri.startswith("otpauth://totp/")
        assert app.issuer == "phonegate"
        shown_key = page.locator("#totp-secret").inner_text().replace(" ", "")
        assert shown_key == app.secret  # the key to type in is the one the QR code holds

        # a wrong code is refused in the app's words; the app's current code turns it on
        wrong = "000000" if app.now() != "000000" else "111111"
        walk.fill("#totp-confirm-form", code=wrong)
        walk.submit("#totp-confirm-form")
        expect(walk.error("#totp-confirm-form")).to_have_attribute("data-type", "InvalidCode")
        expect(walk.error("#totp-confirm-form")).to_contain_text("authenticator app shows now")
        walk.fill("#totp-confirm-form", code=app.now())
        walk.submit("#totp-confirm-form")
        expect(page.locator("#recovery-codes")).to_be_visible()
        expect(page.locator("#recovery-codes")).to_contain_text("they will not be shown again")
        expect(page.locator("#recovery-codes-list li")).to_have_count(10)
        codes = page.locator("#recovery-codes-list li").all_inner_texts()
        expect(page.locator("#totp-status")).to_have_attribute("data-totp", "on")
        expect(page.locator("#recovery-left")).to_have_attribute("data-left", "10")
        expect(page.locator("#totp-confirm-form")).to_be_hidden()
        assert page.locator("#totp-secret").inner_text() == ""  # the key left the page
        walk.shot("recovery-codes-once")

        # the Copy button puts the ten codes on the clipboard
        page.click("#copy-recovery-codes")
        expect(page.locator("#copy-status")).to_contain_text("Copied")
        copied = page.evaluate("() => navigator.clipboard.readText()")
        left_after_enrolment = secrets_left_behind([app.secret, uri, *codes])
        page.click("#recovery-codes-done")
        expect(page.locator("#recovery-codes")).to_be_hidden()
        codes_still_in_page = [c for c in codes if c in page.content()]

        # log out; log in with the app (the next step's code: this one was used to confirm)
        log_out()
        log_in(STRONG_PASSWORD)
        expect(page.locator("#second-factor-methods")).to_be_visible()
        offered = page.locator("#second-factor-methods label:visible input").evaluate_all(
            "inputs => inputs.map(i => i.value)"
        )
        expect(page.locator("#second-factor-methods [value=TOTP]")).to_be_checked()
        expect(page.locator("#second-factor-hint")).to_contain_text("authenticator app")
        walk.shot("login-method-chooser")
        second_step("TOTP", app.at(time.time() + 30))
        expect(page.locator("#view-account")).to_be_visible()
        walk.shot("logged-in-with-totp")

        # log in with a recovery code; the same code a second time is refused
        log_out()
        log_in(STRONG_PASSWORD)
        second_step("RECOVERY_CODE", codes[0].upper())
        expect(page.locator("#view-account")).to_be_visible()
        expect(page.locator("#recovery-left")).to_have_attribute("data-left", "9")
        log_out()
        log_in(STRONG_PASSWORD)
        second_step("RECOVERY_CODE", codes[0])
        expect(walk.error("#second-factor-form")).to_have_attribute("data-type", "InvalidCode")
        expect(walk.error("#second-factor-form")).to_contain_text("already used")
        expect(page.locator("#view-second-factor")).to_be_visible()
        walk.shot("recovery-code-reused")

        # reset by SMS: refused until the second factor is given, then done
        page.click("#view-second-factor [data-go=start]")
        page.click("#forgot-button")
        expect(page.locator("#reset-second-factor")).to_be_hidden()
        walk.fill("#reset-request-form", phone=phone)
        walk.submit("#reset-request-form")
        walk.fill("#reset-form", code=sms_code(sender, phone, "reset_password"))
        walk.fill("#reset-form", newPassword=OTHER_PASSWORD)
        walk.submit("#reset-form")
        expect(walk.error("#reset-form")).to_have_attribute("data-type", "InvalidInput")
        expect(walk.error("#reset-form")).to_contain_text("authenticator app")
        expect(page.locator("#reset-second-factor")).to_be_visible()
        expect(page.locator("#view-reset")).to_be_visible()
        walk.shot("reset-asks-for-second-factor")
        walk.fill("#reset-form", secondFactorCode=codes[1])
        walk.submit("#reset-form")
        expect(page.locator("#view-start")).to_be_visible()
        expect(page.locator("#notice")).to_contain_text("Password reset")
        log_in(STRONG_PASSWORD)  # the old password is gone
        expect(walk.error("#login-form")).to_have_attribute("data-type", "InvalidCredentials")
        log_in(OTHER_PASSWORD)
        second_step("RECOVERY_CODE", codes[2])
        expect(page.locator("#view-account")).to_be_visible()

        # the Recent activity card: newest first, with the address and the browser
        expect(page.locator("#activity-table tbody tr").first).to_have_attribute(
            "data-kind", "login"
        )
        rows = page.locator("#activity-table tbody tr")
        kinds = rows.evaluate_all("rows => rows.map(r => r.dataset.kind)")
        first_row = rows.first.locator("td").all_inner_texts()
        walk.shot("recent-activity")

        # new recovery codes with the password; the old ones end
        walk.fill("#recovery-form", currentPassword=OTHER_PASSWORD)
        walk.submit("#recovery-form")
        expect(page.locator("#recovery-codes-list li")).to_have_count(10)
        fresh = page.locator("#recovery-codes-list li").all_inner_texts()
        expect(page.locator("#recovery-left")).to_have_attribute("data-left", "10")
        walk.shot("recovery-codes-regenerated")

        # turn the app off (a wrong password first); logging in needs the password only
        walk.fill("#totp-disable-form", currentPassword=STRONG_PASSWORD)
        walk.submit("#totp-disable-form")
        expect(walk.error("#totp-disable-form")).to_have_attribute(
            "data-type", "InvalidCredentials"
        )
        walk.fill("#totp-disable-form", currentPassword=OTHER_PASSWORD)
        walk.submit("#totp-disable-form")
        expect(page.locator("#totp-status")).to_have_attribute("data-totp", "off")
        expect(page.locator("#recovery-codes")).to_be_hidden()
        expect(page.locator("#totp-setup-form")).to_be_visible()
        expect(page.locator("#activity-table tbody tr").first).to_have_attribute(
            "data-kind", "totp_disabled"
        )
        walk.shot("totp-off")
        log_out()
        log_in(OTHER_PASSWORD)
        expect(page.locator("#view-account")).to_be_visible()

        # a setup left half done leaves the page with the session
        walk.fill("#totp-setup-form", currentPassword=OTHER_PASSWORD)
        walk.submit("#totp-setup-form")
        expect(page.locator("#totp-qr")).to_be_visible()
        abandoned = page.locator("#totp-secret").inner_text().replace(" ", "")
        log_out()
        abandoned_in_page = abandoned in page.content().replace(" ", "")
        qr_size = page.locator("#totp-qr").evaluate("canvas => canvas.width * canvas.height")
        left_at_the_end = secrets_left_behind([app.secret, uri, *codes, *fresh, abandoned])
        browser.close()

    # then
    assert problems == []
    assert copied == "\n".join(codes) + "\n"
    assert len(set(codes)) == 10 and all(RECOVERY_CODE_RE.match(c) for c in codes)
    assert set(fresh).isdisjoint(codes) and len(set(fresh)) == 10
    assert offered == ["TOTP", "RECOVERY_CODE"]  # no SMS method: none was sent
    assert sender.to(phone, "login_code") == []
    assert left_after_enrolment == [] and left_at_the_end == []
    assert codes_still_in_page == []
    assert len(abandoned) >= 16 and not abandoned_in_page and qr_size == 0
    assert kinds.index("login") < kinds.index("password_reset") < kinds.index("totp_enabled")
    assert kinds.index("totp_enabled") < kinds.index("signup") == len(kinds) - 1
    assert {"recovery_code_used", "login_failed", "session_revoked"} <= set(kinds)
    assert first_row[0] == "Logged in" and first_row[2] == "127.0.0.1"
    assert "Chrome" in first_row[3]


def test_without_the_qr_library_the_page_says_so_and_the_typed_key_works(
    chromium: Path, make_settings: Callable[..., Settings]
):
    from playwright.sync_api import expect, sync_playwright

    # given: the library cannot be loaded (as on a server where it was never fetched)
    sender = RecordingSender()
    phone = new_phone()
    problems: list[str] = []
    with (
        live_server(make_settings(), sender) as base,
        tempfile.TemporaryDirectory(prefix="spa-2fa-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.route("**/node_modules/**", lambda route: route.fulfill(status=404, body=""))
        walk = Walk(page, ARTIFACTS)
        page.goto(f"{base}/")
        walk.fill("#signup-form", phone=phone, password=STRONG_PASSWORD)
        walk.submit("#signup-form")
        walk.fill("#verify-form", code=sms_code(sender, phone, "verify_signup"))
        walk.submit("#verify-form")
        expect(page.locator("#view-account")).to_be_visible()

        # when
        walk.fill("#totp-setup-form", currentPassword=STRONG_PASSWORD)
        walk.submit("#totp-setup-form")
        expect(page.locator("#totp-qr-missing")).to_be_visible()
        said = page.locator("#totp-qr-missing").inner_text()
        qr_visible = page.locator("#totp-qr").is_visible()
        key = page.locator("#totp-secret").inner_text().replace(" ", "")
        walk.fill("#totp-confirm-form", code=pyotp.TOTP(key).now())  # typed into the app
        walk.submit("#totp-confirm-form")
        expect(page.locator("#recovery-codes-list li")).to_have_count(10)
        expect(page.locator("#totp-status")).to_have_attribute("data-totp", "on")
        browser.close()

    # then
    assert FETCH_COMMAND in said and "Type the key" in said
    assert not qr_visible
    assert problems == []

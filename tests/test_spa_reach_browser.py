"""The reference page's reach (issue 16) in headless Chromium: a person signs up in Spanish,
watches the status of the code reach "delivered" (the Twilio double posts the signed status
callback to the live server), and a second person, whose SMS never reports delivery, gets
"Call me instead", which places a call whose TwiML reads the code that then verifies.

The server sends through the real Twilio SDK to the local Twilio double; "Call me instead"
waits CALL_AFTER_SECONDS, shortened here by the page's ?callAfter= parameter."""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from core.settings import Settings
from server.app import create_app
from tests.support import STRONG_PASSWORD, new_phone
from tests.test_spa_browser import CHROMIUM_ARGS, chromium, free_port  # noqa: F401 (fixture)
from tests.twilio_double import Accepted, TwilioDouble, twilio_settings

CALL_AFTER_SECONDS = 2
DIGITS = re.compile(r"^(\d(?:, \d)+)\.$")


@contextlib.contextmanager
def live_server(settings: Settings, port: int) -> Iterator[str]:
    """The app under uvicorn in a thread on ``port``, sending through Twilio (the double)."""
    app = create_app(settings)  # its lifespan makes the Twilio sender (SMS_BACKEND=twilio)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="spa-reach-server", daemon=True)
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


def arrived(found: Callable[[], list[Accepted]], what: str) -> Accepted:
    deadline = time.monotonic() + 10
    while not found():
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.05)
    return found()[-1]


def spoken_code(twiml: str) -> str:
    for say in ET.fromstring(twiml).iter("Say"):
        match = DIGITS.match(say.text or "")
        if match:
            return match.group(1).replace(", ", "")
    raise AssertionError(f"no code read in {twiml}")


def test_a_person_sees_the_code_delivered_and_can_ask_for_a_call_instead(
    chromium: Path,  # noqa: F811 (the fixture)
    make_settings: Callable[..., Settings],
    twilio: TwilioDouble,
):
    from playwright.sync_api import expect, sync_playwright

    # given: the server on a known port, so that Twilio's callbacks can reach it
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        **twilio_settings(twilio, PUBLIC_BASE_URL=base, RESEND_COOLDOWN_SECONDS="1")
    )
    spanish, waiting = new_phone(), new_phone()
    problems: list[str] = []
    with (
        live_server(settings, port),
        tempfile.TemporaryDirectory(prefix="spa-reach-") as profile,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

        # when: a person signs up by SMS in Spanish
        page.goto(f"{base}/?callAfter={CALL_AFTER_SECONDS}")
        expect(page.locator("body[data-ready='1']")).to_be_attached()
        page.fill("#signup-form [name=phone]", spanish)
        page.fill("#signup-form [name=password]", STRONG_PASSWORD)
        page.select_option("#signup-form [name=locale]", "es")
        page.click("#signup-form [type=submit]")
        expect(page.locator("#view-verify")).to_be_visible()
        sms = arrived(lambda: twilio.to(spanish), "SMS to the Spanish signup")
        expect(page.locator("#delivery-status")).to_have_attribute("data-status", "sent")
        # and Twilio reports the SMS delivered
        assert twilio.callback(sms.sid, "delivered") == 204
        # then: the page says so, and offers no call
        expect(page.locator("#delivery-status")).to_have_attribute("data-status", "delivered")
        expect(page.locator("#delivery-status")).to_contain_text("delivered")
        time.sleep(CALL_AFTER_SECONDS + 0.5)
        expect(page.locator("#call-me")).to_be_hidden()
        assert sms.body.startswith("Usa ") and "para verificar tu cuenta" in sms.body

        # when: another person's SMS never reports delivery
        page.click("#view-verify [data-go=start]")
        page.fill("#signup-form [name=phone]", waiting)
        page.fill("#signup-form [name=password]", STRONG_PASSWORD)
        page.click("#signup-form [type=submit]")
        expect(page.locator("#view-verify")).to_be_visible()
        arrived(lambda: twilio.to(waiting), "SMS to the waiting signup")
        # then: after CALL_AFTER_SECONDS the page offers a call, which reads the code
        expect(page.locator("#call-me")).to_be_visible(timeout=(CALL_AFTER_SECONDS + 5) * 1000)
        page.click("#call-me")
        call = arrived(lambda: twilio.call_to(waiting), "call")
        expect(page.locator("#delivery-status")).to_contain_text("by a phone call")
        expect(page.locator("#call-me")).to_be_hidden()
        page.fill("#verify-form [name=code]", spoken_code(call.body))
        page.click("#verify-form [type=submit]")
        expect(page.locator("#view-verify")).to_be_hidden()
        browser.close()

    assert problems == []

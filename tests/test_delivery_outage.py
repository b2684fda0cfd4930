"""A Twilio outage seen from outside: the real server (``python main.py``) in a subprocess,
the local Twilio double failing on demand, then Twilio's signed status callbacks."""

from __future__ import annotations

import asyncio
import re
import statistics
import time

import httpx

from models import OutboxMessage
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.twilio_double import AppProcess, TwilioDouble, orm, served_app, server_env, sign

CODE_RE = re.compile(r"code is (\d{6,10})\b")
USERS = 8


def codes_for(twilio: TwilioDouble, phone: str) -> list[str]:
    return [m.group(1) for msg in twilio.to(phone) if (m := CODE_RE.search(msg.body))]


def post_form(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
    return httpx.post(url, data=params, headers=headers, trust_env=False).status_code


CHALLENGES: dict[str, str] = {}  # each phone's signup challenge, for verifyPhone


def timed_signup(app: AppProcess, phone: str) -> tuple[str, float]:
    started = time.monotonic()
    answer = app.graphql(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    CHALLENGES[phone] = answer.get("challenge", "")
    return answer["__typename"], time.monotonic() - started


async def test_signups_answer_at_once_during_an_outage_and_each_code_arrives_once_after(
    database_url, twilio
):
    # given: the server up, then Twilio down (a hanging Twilio: test_notifier_outbox.py)
    env = server_env(twilio, database_url)
    phones = [new_phone() for _ in range(USERS)]
    with served_app(env) as app:
        await asyncio.to_thread(timed_signup, app, new_phone())  # warm up
        twilio.outage(503)
        # when
        answers = [await asyncio.to_thread(timed_signup, app, p) for p in phones]
        await asyncio.sleep(1.5)  # several tries fail meanwhile
        failed_tries = sum(len(twilio.seen(p)) for p in phones)
        twilio.recover()
        recovered = time.monotonic()
        for phone in phones:
            await twilio.wait(phone, timeout=15)
        arrived_in = time.monotonic() - recovered
        await asyncio.sleep(0.5)  # room for a duplicate to show up
        received = {p: codes_for(twilio, p) for p in phones}
        sessions = [
            await asyncio.to_thread(
                app.graphql,
                d.VERIFY_PHONE,
                {"input": {"phone": p, "challenge": CHALLENGES[p], "code": received[p][0]}},
            )
            for p in phones
        ]
        log = app.output()
    # then
    latencies = [seconds for _, seconds in answers]
    figures = {
        "queued": USERS,
        "sent": sum(1 for c in received.values() if c),
        "duplicated": sum(len(c) - 1 for c in received.values() if c),
        "lost": sum(1 for c in received.values() if not c),
        "failed tries during the outage": failed_tries,
        "median signup seconds": round(statistics.median(latencies), 3),
        "slowest signup seconds": round(max(latencies), 3),
        "all arrived within seconds of recovery": round(arrived_in, 2),
    }
    print(f"\noutage (503): {figures}")
    assert all(kind == "VerificationSent" for kind, _ in answers)
    assert max(latencies) < 1.0
    assert failed_tries >= 2 * USERS
    assert all(len(codes) == 1 for codes in received.values()), received
    assert all(s["__typename"] == "Session" for s in sessions)
    assert not any(codes[0] in log for codes in received.values())  # no code in the log


async def test_twilio_status_callbacks_signed_apply_and_unsigned_are_refused(database_url, twilio):
    # given: two codes sent through the real server, which asks for callbacks
    env = server_env(twilio, database_url)
    delivered_phone, other_phone = new_phone(), new_phone()
    with served_app(env) as app:
        for phone in (delivered_phone, other_phone):
            await asyncio.to_thread(timed_signup, app, phone)
        (delivered,) = await twilio.wait(delivered_phone)
        (other,) = await twilio.wait(other_phone)
        await asyncio.sleep(0.5)  # the server records the sids
        # when: Twilio reports delivery (signed); a forger reports failure (unsigned or not)
        signed = await asyncio.to_thread(twilio.callback, delivered.sid, "delivered")
        late_sent = await asyncio.to_thread(twilio.callback, delivered.sid, "sent")
        params = {"MessageSid": other.sid, "MessageStatus": "failed", "ErrorCode": "30008"}
        url = f"{app.url}/twilio/status"
        unsigned = await asyncio.to_thread(post_form, url, params, {})
        forged = await asyncio.to_thread(
            post_form, url, params, {"X-Twilio-Signature": sign(url, params, "guess")}
        )
        async with orm(database_url):
            states = {
                row.phone: row.state
                for row in await OutboxMessage.filter(
                    phone__in=[delivered_phone, other_phone], action="verify_signup"
                )
            }
    # then
    assert delivered.status_callback == f"{app.url}/twilio/status"
    assert (signed, late_sent) == (204, 204)
    assert (unsigned, forged) == (403, 403)
    assert states == {delivered_phone: "delivered", other_phone: "sent"}

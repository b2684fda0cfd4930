"""The attacker's suite, notices (issue 11, item 6): messages without a code are SMS too. They
count in the per-phone and global SMS budgets; over budget a notice waits and goes out merged
with the next ones to that phone, never lost and never over the budget. Before, 12
two-factor toggles sent 12 SMS within a second."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from models import OutboxMessage
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, RecordingSender, new_phone

WINDOW = 6  # seconds: the per-phone budget of these tests is 4 SMS in it
ROOMY = "account_ops=100/minute,sms_per_client=100/minute,sms_per_prefix=100/minute"


@dataclass
class TimedSender(RecordingSender):
    """Records when each SMS left, on the event loop's clock."""

    times: list[tuple[str, float]] = field(default_factory=list)

    async def send(self, to, body, *, action, status_callback):
        self.times.append((to, asyncio.get_running_loop().time()))
        return await super().send(to, body, action=action, status_callback=status_callback)

    def most_in_any_window(self, phones, seconds):
        sent = sorted(t for to, t in self.times if to in phones)
        return max((sum(1 for u in sent if t <= u < t + seconds) for t in sent), default=0)


async def toggle(api, session, enabled):
    variables = {"input": {"currentPassword": STRONG_PASSWORD, "enabled": enabled}}
    answer = await api.run(d.SET_TWO_FACTOR, variables, token=session["accessToken"])
    assert answer["__typename"] == "TwoFactorUpdated", answer


async def settled(phones, timeout=4 * WINDOW):
    """Wait until no notice to these phones is queued or being sent any more."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await OutboxMessage.filter(phone__in=phones, state__in=["queued", "sending"]).exists():
        assert asyncio.get_running_loop().time() < deadline, "notices still waiting"
        await asyncio.sleep(0.1)


async def test_twelve_two_factor_toggles_stay_within_the_phones_sms_budget(
    make_settings, start_app
):
    sender = TimedSender()
    settings = make_settings(RATE_LIMITS=f"sms_per_phone=4/{WINDOW} seconds,{ROOMY}")
    async with start_app(settings, sender=sender) as api:
        # given
        phone = new_phone()
        session = await signup_verified(api, phone)
        # when: on, off, on, ... twelve times, ending off
        for i in range(12):
            await toggle(api, session, enabled=i % 2 == 0)
        await settled([phone])
        # then: never more than the budget in any window, every toggle told, the last last
        assert sender.most_in_any_window({phone}, WINDOW) <= 4
        assert len(sender.to(phone)) < 2 + 12
        told = await OutboxMessage.filter(phone=phone, action="two_factor_changed")
        assert len(told) == 12 and {m.state for m in told} <= {"merged", "sent"}
        assert "merged" in {m.state for m in told}
        assert "turned off" in sender.to(phone)[-1].body.splitlines()[-1]


async def test_notices_to_many_phones_stay_within_the_global_sms_budget(make_settings, start_app):
    sender = TimedSender()
    settings = make_settings(RATE_LIMITS=f"sms_global=6/{WINDOW} seconds,{ROOMY}")
    async with start_app(settings, sender=sender) as api:
        # given: three accounts (their signups' codes and welcome notices use the budget)
        phones = [new_phone() for _ in range(3)]
        sessions = [await signup_verified(api, p) for p in phones]
        # when
        for session in sessions:
            for enabled in (True, False, True):
                await toggle(api, session, enabled)
        await settled(phones)
        # then: every phone heard of the last toggle; the service never sent over budget
        assert sender.most_in_any_window(set(phones), WINDOW) <= 6
        for phone in phones:
            assert "turned on" in sender.to(phone)[-1].body.splitlines()[-1]
        told = await OutboxMessage.filter(phone__in=phones, action="two_factor_changed")
        assert len(told) == 9 and {m.state for m in told} <= {"merged", "sent"}


async def test_a_signup_of_a_registered_phone_costs_its_budget_one_sms_like_any_signup(
    make_settings, start_app
):
    # given: 4 SMS per phone; the account's own signup spent 2 (its code, then its notice)
    settings = make_settings(
        RATE_LIMITS=f"sms_per_phone=4/10 minutes,{ROOMY}", RESEND_COOLDOWN_SECONDS="0"
    )
    async with start_app(settings) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await api.sms.wait(phone, "signup_verified")
        signup = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
        # when: a stranger signs the phone up (its owner is told instead), then again
        first = await api.run(d.SIGNUP, signup)
        await api.sms.wait(phone, "signup_existing")
        await settled([phone])
        second = await api.run(d.SIGNUP, signup)
    # then: the notice stood in for the first signup's code and was not counted twice
    # (counted twice, the budget would be spent and the second would be RateLimited, which a
    # signup of an unregistered phone would not be: the answer would tell the two apart)
    assert first["__typename"] == "VerificationSent", first
    assert second["__typename"] == "VerificationSent", second

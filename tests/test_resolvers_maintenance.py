"""The periodic clean-up removes only what has outlived its purpose."""

from __future__ import annotations

from datetime import timedelta

from core.clock import now
from models import (
    AuthSession,
    MessageAttempt,
    OutboxMessage,
    PendingSignup,
    RefreshToken,
    User,
    VerificationCode,
)
from resolvers.maintenance import purge
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone


async def test_purge_removes_stale_signups_and_old_rows_but_keeps_live_ones(api):
    # given a verified account, a fresh and a stale unverified signup, an old code row
    live = await signup_verified(api)
    fresh, stale = new_phone(), new_phone()
    for phone in (fresh, stale):
        await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    await PendingSignup.filter(phone=stale).update(expires_at=now() - timedelta(seconds=1))
    await VerificationCode.filter(phone=stale).update(expires_at=now() - timedelta(days=2))
    session = await AuthSession.filter(user__phone=live["user"]["phone"]).first()
    await RefreshToken.create(
        session=session,
        token_hash="expired" + "0" * 57,
        expires_at=now() - timedelta(seconds=1),
    )
    await api.sms.wait(fresh, "verify_signup")
    old_message = await OutboxMessage.filter(phone=fresh).first()
    assert old_message is not None
    await MessageAttempt.create(message=old_message, outcome="sent")
    await OutboxMessage.filter(id=old_message.id).update(created_at=now() - timedelta(days=31))
    queued = await OutboxMessage.create(
        action="password_changed",
        phone=fresh,
        body="x",
        state="queued",
        next_attempt_at=now() + timedelta(days=1),
    )
    await OutboxMessage.filter(id=queued.id).update(created_at=now() - timedelta(days=31))
    # when
    removed = await purge(api.app.state.deps)
    # then
    assert removed["unverified_users"] >= 1 and removed["code_rows"] >= 1
    assert await PendingSignup.filter(phone=stale).count() == 0
    assert await PendingSignup.filter(phone=fresh).count() == 1
    assert await VerificationCode.filter(phone=fresh, challenge_hash__isnull=False).count() == 1
    assert await User.filter(phone=live["user"]["phone"]).count() == 1
    assert await RefreshToken.filter(token_hash="expired" + "0" * 57).count() == 0
    assert (await api.run(d.ME, token=live["accessToken"])) is not None
    assert not await OutboxMessage.filter(id=old_message.id).exists()
    assert not await MessageAttempt.filter(message_id=old_message.id).exists()
    assert await OutboxMessage.filter(id=queued.id).exists()  # not yet sent: kept

"""Signup, resending the signup code, phone verification, username availability.

Every signup is its own pending signup (models/signup.py) with its own challenge and code:
only that challenge with its code completes it, so a later signup of the same phone never
changes an earlier one and a code sent for one cannot complete another. The answers never
depend on whether a phone is registered: a registered phone's signup gets a decoy
challenge that behaves like a real one (its owner is told by SMS instead of getting a code).

Usernames. A username held by an account gives UsernameTaken whatever the phone. A pending
signup reserves nothing, neither its phone nor its username: a signup nobody can verify must
not block the real owner of either (squatting costs only an SMS to any phone). So two
pending signups may want one name; the first verified gets it, and a later verification
still succeeds (the phone is proven, the code was right) with the account made without a
username, which ``Session.user.username`` shows and changeIdentity can set: VerifyPhoneResult
has no UsernameTaken, and refusing a right code would waste the proof of the phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core.clock import now
from models import OutboxMessage, PendingSignup, User, VerificationCode, rows
from notifier.actions import Action
from resolvers import codes, events, guards, languages, tokens
from resolvers.delivery import code_message, queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid, InputRejected, UsernameInUse
from resolvers.passwords import check_policy
from resolvers.usernames import normalize_username

UNVERIFIED_TTL_MAX = 86_400  # an unverified signup never outlives a day (SECURITY.md)
UNKNOWN_ID = 0  # never a row's id (ids start at 1): a placeholder the statement chain replaces
SUBJECT_PREFIX = "signup:"  # a pending signup's code: "signup:<its id>"
UNKNOWN_SIGNUP = "That signup is unknown or has expired: sign up again."


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_at: datetime
    challenge: str


def live_accounts(deps: Deps) -> QuerySet[User]:
    """Accounts that hold their phone and username: proven ones."""
    return User.filter(is_verified=True)


def _subject(pending_id: int) -> str:
    """The subject of a pending signup's code."""
    return f"{SUBJECT_PREFIX}{pending_id}"


def _pending_id(row: VerificationCode) -> int:
    return int(row.subject.removeprefix(SUBJECT_PREFIX))


async def start(
    deps: Deps,
    client: Client,
    phone_raw: str,
    password: str,
    username_raw: str | None,
    *,
    locale: str | None = None,
    channel: str = "sms",
) -> CodeSent:
    """A pending signup and its code by ``channel``. A registered phone's owner is told
    (signup_existing) by the same channel, so that what deliveryStatus shows for the
    challenge is a real message to that phone either way (resolvers/reach.py). The signup,
    its code and its message are written together: one statement on PostgreSQL
    (``_open_chained``), one transaction on SQLite (``_open``), the same rows either way."""
    channel = deps.channel(channel)
    phone = deps.normalize_phone(phone_raw)
    chosen = languages.signup_locale(deps, client, locale, phone)
    username = normalize_username(username_raw) if username_raw else None
    context = (phone, *(username or ()))
    password = check_policy(password, context=context, **deps.password_limits())
    if username is not None and await live_accounts(deps).filter(username_key=username[1]).exists():
        raise UsernameInUse()  # decided by the name alone, never by the phone
    wait_on = await codes.phone_wait(codes.SIGNUP, phone)
    await guards.sms_budget(deps, client, phone, wait_on=wait_on, channel=channel)
    password_hash = await deps.passwords.hash(password)
    ttl = min(deps.settings.unverified_ttl_seconds, UNVERIFIED_TTL_MAX)
    await codes.claim_phone_wait(deps.codes, codes.SIGNUP, phone, wait_on)
    # Read before the writes on both paths (no lock was ever taken on it: a phone verified
    # meanwhile gets a code like a new one, as it did inside the transaction).
    owner = await live_accounts(deps).get_or_none(phone=phone)
    pending = PendingSignup(
        phone=phone,
        username=username[0] if username else None,
        username_key=username[1] if username else None,
        password_hash=password_hash,
        locale=chosen,
        expires_at=now() + timedelta(seconds=ttl),
    )
    code, issued, message = _opening_rows(deps, pending, owner, channel, chosen)
    # PostgreSQL: the three rows in one statement (one round trip instead of five: BEGIN,
    # three INSERTs, COMMIT), for a new phone and a registered one alike. SQLite keeps the
    # ORM's statements (why: rows.chain_connection).
    connection = rows.chain_connection(PendingSignup)
    written = None
    if connection is not None:
        written = await _open_chained(deps, connection, pending, code, issued, message)
    if written is None:
        written = await _open(deps, pending, code, issued, message)
    assert written.challenge is not None
    return CodeSent(phone, written.expires_at, written.challenge)


def _opening_rows(
    deps: Deps, pending: PendingSignup, owner: User | None, channel: str, locale: str
) -> tuple[VerificationCode, codes.IssuedCode, OutboxMessage]:
    """A new signup's code row (bound to a new challenge) and its message, not yet written:
    the code by ``channel`` to a new phone; for a registered phone a decoy code, and its
    owner told instead (signup_existing, in the owner's language), so that the same rows
    are written either way. The code's subject and the message's code_id are the pending
    signup's and the code's ids, filled in as each is written (``_open``, ``_open_chained``).
    """
    code, issued = codes.fresh_code(
        deps.codes,
        codes.SIGNUP,
        subject=_subject(UNKNOWN_ID),
        phone=pending.phone,
        user_id=None,
        bind=True,
        decoy=owner is not None,  # the owner gets signup_existing instead of a code
        channel=channel,
    )
    if owner is not None:
        return code, issued, _owner_notice(deps, owner, issued, channel)
    message = code_message(
        deps, codes.SIGNUP, issued, phone=pending.phone, channel=channel, locale=locale
    )
    assert message is not None  # a new phone's code is no decoy: it is sent
    return code, issued, message


async def _open(
    deps: Deps,
    pending: PendingSignup,
    code: VerificationCode,
    issued: codes.IssuedCode,
    message: OutboxMessage,
) -> codes.IssuedCode:
    """The rows of ``_opening_rows`` written by the ORM, in one transaction whose message
    goes out as it commits."""
    async with deps.outbox.committing():
        await pending.save(force_create=True)
        code.subject = _subject(pending.id)
        # fresh (codes.issue): the pending signup was just created, its subject has no row
        await code.save(force_create=True)
        message.code_id = code.id
        await deps.outbox.queue(message, replaces=issued.replaced)
    return issued.written_as(code.id)


async def _open_chained(
    deps: Deps,
    connection: BaseDBAsyncClient,
    pending: PendingSignup,
    code: VerificationCode,
    issued: codes.IssuedCode,
    message: OutboxMessage,
) -> codes.IssuedCode | None:
    """What ``_open`` writes, in one PostgreSQL statement (a data-modifying WITH: atomic
    alone, so no BEGIN and COMMIT): the pending signup, its code (subject from the signup's
    RETURNING), its message (code_id from the code's). A failure writes none of them.

    None if the message's row is not its whole queueing (one that ends older messages of
    its kind, an UPDATE ``Outbox.queue`` makes): left to ``_open``. A signup's first code
    and signup_existing never end any (``Outbox.supersedes``).
    """
    if deps.outbox.supersedes(message, issued.replaced):
        return None
    async with deps.outbox.handing_over():  # the message goes out once written
        deps.outbox.hand_over_later(message)  # its hand-over token, before the row is built
        chain = rows.Chain()
        chain.insert("pending", pending, tail='RETURNING "id"')
        chain.insert(
            "code",
            code,
            source="pending",
            taken={"subject": rows.Prefixed(SUBJECT_PREFIX, "id")},
            tail='RETURNING "id"',
        )
        chain.insert(
            "message", message, source="code", taken={"code_id": "id"}, tail='RETURNING "id"'
        )
        final = 'SELECT "code"."id", "message"."id" AS "message_id" FROM "code", "message"'
        _, written = await connection.execute_query(chain.sql(final), chain.params)
        message.id = written[0]["message_id"]  # its hand-over claims it by id
    return issued.written_as(written[0]["id"])


async def resend(
    deps: Deps, client: Client, phone_raw: str, challenge: str, channel: str = "sms"
) -> CodeSent:
    """A new code for this signup (after the resend wait), by ``channel`` (a resend may
    switch channel); the same challenge answered.

    A registered phone: the same answer and wait, its owner told again by that channel
    (signup_existing, as at signup). A completed or dead signup: the same answer and wait,
    nothing sent. The wrong-guess count is the challenge's and survives every resend,
    whatever the channel.
    """
    channel = deps.channel(channel)
    phone = deps.normalize_phone(phone_raw)
    row = await codes.find(deps.codes, codes.SIGNUP, challenge, phone)
    if row is None:
        raise InputRejected("challenge", UNKNOWN_SIGNUP)
    await guards.sms_budget(deps, client, phone, wait_on=row, channel=channel)
    async with deps.outbox.committing():  # its messages go out as it commits
        pending = await PendingSignup.get_or_none(id=_pending_id(row), expires_at__gt=now())
        owner = await live_accounts(deps).get_or_none(phone=phone)
        issued = await queue_code(
            deps,
            codes.SIGNUP,
            subject=row.subject,
            phone=phone,
            user_id=None,
            decoy=owner is not None or pending is None,
            channel=channel,
            locale=(pending.locale if pending else None) or languages.DEFAULT_LOCALE,
        )
        if owner is not None:  # told again, as a real resend sends again (reach.py)
            await _tell_owner(deps, owner, issued, channel)
    return CodeSent(phone, issued.expires_at, challenge)


async def verify(
    deps: Deps, client: Client, phone_raw: str, challenge: str, code_raw: str
) -> tokens.IssuedSession:
    phone = deps.normalize_phone(phone_raw)
    code = codes.check_format(deps.codes, codes.SIGNUP, code_raw)
    await guards.guess_budget(deps, client)
    row = await codes.find(deps.codes, codes.SIGNUP, challenge, phone)

    async def complete(row: VerificationCode) -> tokens.IssuedSession:
        pending = await PendingSignup.get_or_none(id=_pending_id(row), expires_at__gt=now())
        if pending is None:
            raise CodeInvalid()  # a decoy
        # PostgreSQL: the writes in one statement (one round trip instead of seven); SQLite
        # keeps the ORM's statements (why: rows.chain_connection).
        connection = rows.chain_connection(User)
        if connection is not None:
            done = await _complete_chained(deps, connection, pending, phone, client)
            if done is not None:
                return done
        return await _complete(deps, pending, phone, client)

    async with deps.outbox.handing_over():  # the signup_verified notice goes out at once
        return await codes.check(deps.codes, row, code, complete, serialize=f"signup:{phone}")


async def _complete(
    deps: Deps, pending: PendingSignup, phone: str, client: Client
) -> tokens.IssuedSession:
    """A proven signup's account, its notice, event and session, by the ORM."""
    # An account that holds the phone already (another signup of it verified first) is
    # found by the phone's unique key, not by a look before: one round trip fewer.
    user = await _create_account(pending)
    # Every other signup of the phone ends with this one.
    await _signups_of(phone).delete()
    await codes.forget(codes.SIGNUP, phone=phone)
    await deps.outbox.enqueue(Action.SIGNUP_VERIFIED, phone, locale=languages.of(user))
    await events.record(user.id, events.SIGNUP, client)
    return await tokens.start_session(deps.tokens, user, client)


async def _complete_chained(
    deps: Deps, connection: BaseDBAsyncClient, pending: PendingSignup, phone: str, client: Client
) -> tokens.IssuedSession | None:
    """What ``_complete`` writes, in one PostgreSQL statement (a data-modifying WITH), its
    rows built by the same functions, its UPDATE and DELETE the same querysets
    (models/rows.py); in the transaction that used the code, after the phone's lock.

    None if it wrote no account: the phone or the username is held by an account
    (``ON CONFLICT DO NOTHING``; every other row is written from the account's RETURNING,
    so none was). ``_complete`` then decides, in the same transaction, as it always has: a
    taken name is dropped (the module docstring), a taken phone answers CodeInvalid (and
    the rollback undoes what this statement ended). The notice's row must be its whole
    queueing: one that ends older messages of its kind (an UPDATE ``enqueue`` makes) is
    left to ``_complete``.
    """
    user = _account(pending, pending.username, pending.username_key)
    notice = deps.outbox.message(Action.SIGNUP_VERIFIED, phone, locale=languages.of(user))
    if deps.outbox.supersedes(notice):
        return None
    deps.outbox.hand_over_later(notice)
    user.id = UNKNOWN_ID  # the rows naming the account take its id from its INSERT's RETURNING
    session, token, refresh = tokens.new_session(deps.tokens, user, client)
    chain = rows.Chain()
    chain.insert("account", user, tail='ON CONFLICT DO NOTHING RETURNING "id"')
    chain.query("signups", _signups_of(phone).delete())
    chain.query("codes", codes.forgetting(codes.SIGNUP, phone=phone))
    chain.insert("notice", notice, source="account", taken={}, tail='RETURNING "id"')
    event = events.event_row(user.id, events.SIGNUP, client)
    chain.insert("event", event, source="account", taken={"user_id": "id"})
    chain.insert(
        "session", session, source="account", taken={"user_id": "id"}, tail='RETURNING "id"'
    )
    chain.insert("token", token, source="session", taken={"session_id": "id"})
    _, written = await connection.execute_query(
        chain.sql('SELECT "account"."id", "notice"."id" AS "notice_id" FROM "account", "notice"'),
        chain.params,
    )
    if not written:
        return None
    user.id = session.user_id = written[0]["id"]
    notice.id = written[0]["notice_id"]  # its hand-over claims it by id
    user._saved_in_db = True  # as User.create leaves it
    return tokens.issued(deps.tokens, user, session, token, refresh)


def _signups_of(phone: str) -> QuerySet[PendingSignup]:
    """Every signup of the phone: they all end when one of them is verified."""
    return PendingSignup.filter(phone=phone)


async def _tell_owner(deps: Deps, owner: User, issued: codes.IssuedCode, channel: str) -> None:
    await deps.outbox.queue(_owner_notice(deps, owner, issued, channel))


def _owner_notice(deps: Deps, owner: User, issued: codes.IssuedCode, channel: str) -> OutboxMessage:
    """signup_existing to a registered phone, in its account's language, by the channel the
    signup asked for, named after the signup's code row (deliveryStatus shows it)."""
    return deps.outbox.message(
        Action.SIGNUP_EXISTING,
        owner.phone,
        channel=channel,
        locale=languages.of(owner),
        code_id=issued.row_id,
        send_before=issued.expires_at,  # late, it would be abandoned as the code's would be
    )


async def _create_account(pending: PendingSignup) -> User:
    """The account of a proven signup; without its username if an account took the name
    meanwhile (see the module docstring). A parallel verification of the same phone wins
    by the unique key: this one then answers like a used code."""
    name, key = pending.username, pending.username_key
    if key is not None and await User.filter(username_key=key).exists():
        name = key = None
    for username, username_key in ((name, key), (None, None)):
        try:
            async with in_transaction():  # a savepoint: the caller's transaction goes on
                user = _account(pending, username, username_key)
                await user.save(force_create=True)
                return user
        except IntegrityError:
            if username_key is None or await User.filter(phone=pending.phone).exists():
                break
    raise CodeInvalid()


def _account(pending: PendingSignup, username: str | None, username_key: str | None) -> User:
    """The account row of a proven signup, not yet saved (both ways of completing one
    write this row: ``_create_account`` and ``_complete_chained``)."""
    return User(
        locale=pending.locale or languages.DEFAULT_LOCALE,
        phone=pending.phone,
        password_hash=pending.password_hash,
        username=username,
        username_key=username_key,
        is_verified=True,
    )


async def pending_for_login(identifier_key: str) -> PendingSignup | None:
    """The newest live pending signup a login identifier names (phone or "username:key")."""
    where = (
        {"username_key": identifier_key.removeprefix("username:")}
        if identifier_key.startswith("username:")
        else {"phone": identifier_key}
    )
    live = PendingSignup.filter(expires_at__gt=now(), **where)
    return await live.order_by("-created_at").first()


async def username_available(deps: Deps, raw: str) -> bool:
    try:
        _, key = normalize_username(raw)
    except InputRejected:
        return False
    return not await live_accounts(deps).filter(username_key=key).exists()


async def purge_stale(deps: Deps) -> int:
    """Delete pending signups past their lifetime, and unverified accounts made before
    pending signups existed (nothing can complete them now)."""
    stale = await PendingSignup.filter(expires_at__lt=now()).delete()
    return stale + await User.filter(is_verified=False).delete()

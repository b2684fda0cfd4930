"""The peer: what a team would build for phone accounts with fastapi-users, the library's
own way (a custom user table and the manager's hooks), with phonegate's argon2id
parameters, on SQLAlchemy over the same database kind. Served by bench/peer.py with
``uvicorn peer_app:app --workers N``; ``python peer_app.py create`` makes its tables.

Register takes a phone beside the email and password. ``on_after_register`` makes a
six-digit code with ``secrets``, stores its HMAC-SHA256 in a ``phone_codes`` table and
sends it by SMS through the Twilio SDK to TWILIO_API_BASE_URL (the bench's Twilio double),
before the register request answers. It uses the SDK's async client
(``messages.create_async`` with an ``AsyncTwilioHttpClient`` made once per process):
what the SDK documents for asyncio apps, and kinder to the peer than the sync client,
which would block its event loop. Login is fastapi-users' own JWT login.

What it does not do, and phonegate does: rate limits, a resend cooldown, a password
strength check, an outbox that survives a crash or a Twilio outage, sessions with refresh
tokens.

Configured by PEER_DATABASE_URL (SQLAlchemy async URL), ARGON2_MEMORY_KIB,
ARGON2_TIME_COST, ARGON2_PARALLELISM, and TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
TWILIO_FROM_NUMBER, TWILIO_API_BASE_URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

SECRET = "peer-bench-secret-" + "p" * 40
DATABASE_URL = os.environ.get("PEER_DATABASE_URL", "sqlite+aiosqlite:///peer.sqlite3")


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    phone: Mapped[str] = mapped_column(String(20), unique=True, index=True)


class PhoneCode(Base):
    """The code a new account must send back, stored only as a keyed hash."""

    __tablename__ = "phone_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserRead(schemas.BaseUser[uuid.UUID]):
    phone: str


class UserCreate(schemas.BaseUserCreate):
    phone: str


engine = create_async_engine(DATABASE_URL)
sessions = async_sessionmaker(engine, expire_on_commit=False)
passwords = PasswordHelper(
    PasswordHash(
        (
            Argon2Hasher(
                time_cost=int(os.environ.get("ARGON2_TIME_COST", "2")),
                memory_cost=int(os.environ.get("ARGON2_MEMORY_KIB", "19456")),
                parallelism=int(os.environ.get("ARGON2_PARALLELISM", "1")),
            ),
        )
    )
)


async def session() -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


async def user_db(s: AsyncSession = Depends(session)) -> AsyncIterator[Any]:  # noqa: B008
    yield SQLAlchemyUserDatabase(s, User)


_twilio: Client | None = None


def twilio() -> Client:
    """One client per worker process, made on first use: its HTTP session needs the loop."""
    global _twilio
    if _twilio is None:
        _twilio = Client(
            os.environ["TWILIO_ACCOUNT_SID"],
            os.environ["TWILIO_AUTH_TOKEN"],
            http_client=AsyncTwilioHttpClient(),
            environment={},
        )
        _twilio.api.base_url = os.environ["TWILIO_API_BASE_URL"]
    return _twilio


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        code = f"{secrets.randbelow(10**6):06d}"
        digest = hmac.new(SECRET.encode(), f"{user.id}|{code}".encode(), hashlib.sha256)
        session: AsyncSession = self.user_db.session  # type: ignore[attr-defined]
        session.add(
            PhoneCode(
                user_id=user.id,
                code_hash=digest.hexdigest(),
                expires_at=datetime.now(UTC) + timedelta(minutes=10),
            )
        )
        await session.commit()
        await twilio().messages.create_async(
            to=user.phone,
            from_=os.environ["TWILIO_FROM_NUMBER"],
            body=f"Your verification code is {code}",
        )


async def user_manager(db: Any = Depends(user_db)) -> AsyncIterator[UserManager]:  # noqa: B008
    yield UserManager(db, passwords)


def strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=900)


backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=strategy
)
users = FastAPIUsers[User, uuid.UUID](user_manager, [backend])

app = FastAPI()
app.include_router(users.get_auth_router(backend), prefix="/auth/jwt")
app.include_router(
    users.get_register_router(UserRead, UserCreate),
    prefix="/auth",
)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def create() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__" and sys.argv[1:] == ["create"]:
    asyncio.run(create())

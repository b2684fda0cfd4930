"""The peer: a minimal fastapi-users app (register + JWT login) with phonegate's argon2id
parameters, on SQLAlchemy over the same database kind. Served by bench/peer.py with
``uvicorn peer_app:app --workers N``; ``python peer_app.py create`` makes its table.

Configured by PEER_DATABASE_URL (SQLAlchemy async URL) and ARGON2_MEMORY_KIB,
ARGON2_TIME_COST, ARGON2_PARALLELISM.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SECRET = "peer-bench-secret-" + "p" * 40
DATABASE_URL = os.environ.get("PEER_DATABASE_URL", "sqlite+aiosqlite:///peer.sqlite3")


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


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


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


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
    users.get_register_router(schemas.BaseUser[uuid.UUID], schemas.BaseUserCreate),
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

"""What asymmetric access tokens cost: ``uv run bench/jwt_signing.py [--rounds N]``.

1. In this process: signing and verifying one access token with each algorithm
   (phonegate's own ``encode_access``/``decode_access`` and key set), CPU microseconds per
   operation, the median of rounds that take turns; and the token's size in bytes.
2. Over HTTP: two servers started as a user would (``main.py``, production settings, one
   worker each, one PostgreSQL database, the Twilio double for the signup SMS), one with
   ``JWT_ALGORITHM=HS256`` and one with the default ``ES256``. Closed-loop ``me`` rounds
   take turns between them, so a change in the machine's other load hits both alike; the
   figure is each server's CPU per answered ``me`` (its worker's user + system time), and
   the ratio ES256 / HS256.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import loadgen
import servers
from loadgen import Connection, Job
from run import cpu_seconds, password, unique_phones
from twilio_double import TwilioDouble

sys.path.insert(0, str(servers.ROOT))
from core import settings as config
from resolvers.deps import derive_key
from resolvers.tokens import TokenPolicy, decode_access, encode_access
from server.jwks import new_key_pem, token_keys

ALGORITHMS = ("HS256", "ES256", "EdDSA", "RS256")
HOST = "127.0.0.1"
ME = "query Me { me { id phone username isVerified } }"
SIGNUP = "mutation S($i: SignupInput!) { signup(input: $i) { __typename } }"
VERIFY = (
    "mutation V($i: VerifyPhoneInput!) { verifyPhone(input: $i) { __typename "
    "... on Session { accessToken } } }"
)


# --- 1. sign and verify in process -----------------------------------------------------


def policy(algorithm: str) -> TokenPolicy:
    env = {"JWT_SECRET": servers.SECRET, "JWT_ALGORITHM": algorithm}
    if algorithm != "HS256":
        env["JWT_PRIVATE_KEY"] = new_key_pem(algorithm).decode()
    settings = config.load(environ=env)
    signing, verify = token_keys(settings)
    return TokenPolicy(
        signing_key=signing,
        hash_key=derive_key(settings.jwt_secret, "refresh-hash"),
        access_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        verify_keys=verify,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def per_operation_us(operation: Callable[[], object], cpu_seconds: float) -> float:
    """CPU microseconds per call, over at least ``cpu_seconds`` of this process's CPU."""
    count, started = 0, time.process_time()
    while (spent := time.process_time() - started) < cpu_seconds:
        for _ in range(20):
            operation()
        count += 20
    return spent / count * 1e6


def size_before(user: Any, session: uuid.UUID) -> int:
    """The size of an access token as the HS256-only versions made it (no kid, iss, aud)."""
    at = int(time.time())
    claims = {"sub": str(user.id), "typ": "access", "sid": str(session), "sv": user.session_version}
    return len(jwt.encode({**claims, "iat": at, "exp": at + 900}, servers.SECRET, "HS256"))


def in_process(rounds: int) -> dict[str, dict[str, float]]:
    user: Any = SimpleNamespace(id=123456, session_version=3)  # encode reads these two only
    session = uuid.uuid4()
    policies = {alg: policy(alg) for alg in ALGORITHMS}
    tokens = {alg: encode_access(p, user, session)[0] for alg, p in policies.items()}
    sign: dict[str, list[float]] = {alg: [] for alg in ALGORITHMS}
    verify: dict[str, list[float]] = {alg: [] for alg in ALGORITHMS}
    for _ in range(rounds):
        for alg, p in policies.items():
            sign[alg].append(per_operation_us(lambda p=p: encode_access(p, user, session), 0.2))
            token = tokens[alg]
            verify[alg].append(per_operation_us(lambda p=p, t=token: decode_access(p, t), 0.2))
    figures: dict[str, dict[str, float]] = {
        alg: {
            "sign_us": round(statistics.median(sign[alg]), 1),
            "verify_us": round(statistics.median(verify[alg]), 1),
            "token_bytes": len(tokens[alg]),
        }
        for alg in ALGORITHMS
    }
    figures["HS256 before"] = {"token_bytes": size_before(user, session)}
    return figures


# --- 2. me against two servers ----------------------------------------------------------


async def account_token(url_port: int, double: TwilioDouble, phone: str) -> str:
    conn = await Connection(HOST, url_port).open()
    try:
        secret = password()
        sent = await conn.graphql(SIGNUP, {"i": {"phone": phone, "password": secret}})
        assert sent["data"]["signup"]["__typename"] == "VerificationSent", sent
        deadline = time.monotonic() + 20
        while (code := double.code(phone)) is None:
            assert time.monotonic() < deadline, "no verification SMS"
            await asyncio.sleep(0.05)
        verified = await conn.graphql(VERIFY, {"i": {"phone": phone, "code": code}})
        return str(verified["data"]["verifyPhone"]["accessToken"])
    finally:
        await conn.close()


def me_jobs(token: str) -> Callable[[], Job | None]:
    async def job(conn: Connection) -> tuple[bool, str]:
        data = await conn.graphql(ME, token=token)
        ok = bool(data.get("data", {}).get("me"))
        return ok, "User" if ok else "null"

    return lambda: job


async def me_side_by_side(
    folder: Path, database_url: str, rounds: int, seconds: float, connections: int
) -> dict[str, Any]:
    double = await TwilioDouble().start()
    phones = unique_phones(10)
    started: dict[str, servers.Server] = {}
    try:
        for alg in ("HS256", "ES256"):
            keys = {"JWT_PRIVATE_KEY": ""} if alg == "HS256" else {}
            env = servers.base_env(
                database_url,
                servers.free_port(),
                WEB_CONCURRENCY="1",
                JWT_ALGORITHM=alg,
                RATE_LIMIT_STORAGE="memory://",
                RATE_LIMITS=servers.OPEN_LIMITS,
                **keys,
                **double.settings(),
            )
            started[alg] = await asyncio.to_thread(
                servers.start, env, folder / f"{alg}.log", migrate_first=not started
            )
        tokens = {
            alg: await account_token(s.port, double, next(phones)) for alg, s in started.items()
        }
        cpu = dict.fromkeys(started, 0.0)
        answered = dict.fromkeys(started, 0)
        for alg, server in started.items():  # warm-up, not counted
            await loadgen.closed_loop("warm", HOST, server.port, 2, 1.0, me_jobs(tokens[alg]))
        for _ in range(rounds):
            for alg, server in started.items():
                pids = server.pids()
                before = cpu_seconds(pids)
                phase = await loadgen.closed_loop(
                    f"me {alg}", HOST, server.port, connections, seconds, me_jobs(tokens[alg])
                )
                cpu[alg] += cpu_seconds(pids) - before
                answered[alg] += phase.ok
                assert not set(phase.outcomes) - {"User"}, phase.outcomes
    finally:
        for server in started.values():
            await asyncio.to_thread(server.stop)
        await double.stop()
    per_me = {alg: cpu[alg] * 1000 / answered[alg] for alg in started}
    return {
        "me_server_cpu_ms_per_request": {alg: round(v, 3) for alg, v in per_me.items()},
        "me_requests": answered,
        "me_cpu_ratio_es256_to_hs256": round(per_me["ES256"] / per_me["HS256"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="turns per measurement")
    parser.add_argument("--seconds", type=float, default=3.0, help="one me round, per server")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    figures: dict[str, Any] = {"in_process": in_process(args.rounds)}
    print(f"{'alg':6} {'sign us':>9} {'verify us':>10} {'token bytes':>12}")
    for alg, row in figures["in_process"].items():
        if "sign_us" in row:
            print(f"{alg:6} {row['sign_us']:9.1f} {row['verify_us']:10.1f} {row['token_bytes']:12}")
    print(f"before (HS256, no kid/iss/aud): {figures['in_process']['HS256 before']['token_bytes']}")
    with tempfile.TemporaryDirectory(prefix="phonegate-jwt-bench-") as tmp:
        with servers.database("postgres", Path(tmp)) as database_url:
            figures.update(
                asyncio.run(
                    me_side_by_side(
                        Path(tmp), database_url, args.rounds, args.seconds, args.connections
                    )
                )
            )
    for alg, ms in figures["me_server_cpu_ms_per_request"].items():
        print(f"me, {alg}: {ms:.3f} ms server CPU per request ({figures['me_requests'][alg]} me)")
    print(f"ES256 / HS256: {figures['me_cpu_ratio_es256_to_hs256']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Forged access tokens: every variant of a real token an attacker can make is refused.

Each forgery starts from the claims of a real, current session, so the only thing wrong
with it is the attack itself; a control token built the same way with nothing wrong is
accepted, so the tests would notice if forging itself were broken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests import documents as d
from tests.conftest import TEST_SECRET, signup_verified
from tests.support import STRONG_PASSWORD

ATTACKER_KEY = "attacker-key-" + "k" * 40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64(p) for p in parts), signature])


def signed(
    claims: dict[str, Any], *, key: str = TEST_SECRET, alg: str = "HS256", **headers: Any
) -> str:
    """An HMAC-signed token, made by hand: PyJWT refuses empty and short keys."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    parts = [json.dumps({"alg": alg, "typ": "JWT", **headers}), json.dumps(claims)]
    message = ".".join(b64(part.encode()) for part in parts)
    signature = hmac.new(key.encode(), message.encode(), digest).digest()
    return f"{message}.{b64(signature)}"


def edited(token: str, **changes: Any) -> str:
    """The token with its payload edited and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64(json.dumps({**claims, **changes}).encode()), signature])


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != name}


Forgery = Callable[[dict[str, Any], str], str]
NOW = int(time.time())
FORGERIES: dict[str, Forgery] = {
    "alg-none": lambda c, t: unsigned({"alg": "none", "typ": "JWT"}, c),
    "alg-None": lambda c, t: unsigned({"alg": "None", "typ": "JWT"}, c),
    "alg-none-with-signature": lambda c, t: unsigned({"alg": "none"}, c, t.split(".")[2]),
    "no-alg": lambda c, t: unsigned({"typ": "JWT"}, c, t.split(".")[2]),
    "wrong-key": lambda c, t: signed(c, key=ATTACKER_KEY),
    "empty-key": lambda c, t: signed(c, key=""),
    "hs512-right-key": lambda c, t: signed(c, alg="HS512"),
    "hs384-right-key": lambda c, t: signed(c, alg="HS384"),
    "rs256-header": lambda c, t: unsigned({"alg": "RS256"}, c, t.split(".")[2]),
    "edited-subject": lambda c, t: edited(t, sub=str(int(c["sub"]) + 1)),
    "edited-version": lambda c, t: edited(t, sv=c["sv"] + 1),
    "edited-expiry": lambda c, t: edited(t, exp=c["exp"] + 86_400),
    "expired": lambda c, t: signed({**c, "iat": NOW - 4000, "exp": NOW - 61}),
    "no-exp": lambda c, t: signed(without(c, "exp")),
    "future-nbf": lambda c, t: signed({**c, "nbf": NOW + 3600}),
    "typ-refresh": lambda c, t: signed({**c, "typ": "refresh"}),
    "no-typ": lambda c, t: signed(without(c, "typ")),
    "no-session": lambda c, t: signed(without(c, "sid")),
    "other-session": lambda c, t: signed({**c, "sid": "00000000-0000-4000-8000-000000000000"}),
    "string-version": lambda c, t: signed({**c, "sv": str(c["sv"])}),
    "jwk-attacker-key": lambda c, t: signed(
        c, key=ATTACKER_KEY, jwk={"kty": "oct", "k": b64(ATTACKER_KEY.encode())}
    ),
    "jwk-right-key": lambda c, t: signed(c, jwk={"kty": "oct", "k": b64(b"x")}),
    "jku-right-key": lambda c, t: signed(c, jku="https://attacker.example/jwks.json"),
    "x5u-right-key": lambda c, t: signed(c, x5u="https://attacker.example/cert.pem"),
    "crit-right-key": lambda c, t: signed(c, crit=["exp"]),
    "kid-dev-null": lambda c, t: signed(c, key="", kid="../../../../dev/null"),
    "kid-sql": lambda c, t: signed(c, key=ATTACKER_KEY, kid="x' UNION SELECT 'attacker-key"),
    "truncated": lambda c, t: t.rsplit(".", 1)[0],
    "oversized": lambda c, t: signed({**c, "pad": "x" * 5000}),
}


@pytest.fixture
async def victim(api) -> dict[str, Any]:
    session = await signup_verified(api)
    token = session["accessToken"]
    return {"token": token, "claims": jwt.decode(token, options={"verify_signature": False})}


async def test_a_control_token_forged_the_same_way_is_accepted(api, victim):
    control = signed(victim["claims"])
    me = await api.run(d.ME, token=control)
    assert me is not None and me["id"] == victim["claims"]["sub"]


@pytest.mark.parametrize("name", list(FORGERIES))
async def test_a_forged_access_token_is_refused(api, victim, name):
    # given
    forged = FORGERIES[name](victim["claims"], victim["token"])
    # when
    me = await api.run(d.ME, token=forged)
    change = await api.run(
        d.CHANGE_PASSWORD,
        {"input": {"currentPassword": STRONG_PASSWORD, "newPassword": "new pass phrase 93"}},
        token=forged,
    )
    # then
    assert me is None
    assert change["__typename"] == "NotAuthenticated"


async def test_leeway_is_at_most_sixty_seconds(api, victim):
    claims = victim["claims"]
    just_expired = signed({**claims, "exp": int(time.time()) - 10})
    long_expired = signed({**claims, "exp": int(time.time()) - 61})
    assert await api.run(d.ME, token=just_expired) is not None  # clock skew allowance
    assert await api.run(d.ME, token=long_expired) is None


async def test_a_refresh_token_is_no_access_token_and_the_reverse(api):
    session = await signup_verified(api)
    as_access = await api.run(d.ME, token=session["refreshToken"])
    as_refresh = await api.run(d.REFRESH, {"token": session["accessToken"]})
    assert as_access is None
    assert as_refresh["__typename"] == "InvalidToken"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer x.y.z", "Token abc", "B" * 9000]
)
async def test_malformed_authorization_headers_mean_no_caller(api, header):
    response = await api.http.post(
        "/graphql", json={"query": d.ME}, headers={"Authorization": header}
    )
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}

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
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests import documents as d
from tests.conftest import TEST_SECRET, signup_verified
from tests.support import STRONG_PASSWORD

ATTACKER_KEY = "attacker-key-" + "k" * 40
ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())
ATTACKER_ED = ed25519.Ed25519PrivateKey.generate()
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_JWK = jwt.algorithms.ECAlgorithm.to_jwk(ATTACKER_EC.public_key(), as_dict=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64(p) for p in parts), signature])


def hmac_signed(
    claims: dict[str, Any], key: str | bytes, alg: str = "HS256", **headers: Any
) -> str:
    """An HMAC-signed token, made by hand: PyJWT refuses empty, short and PEM-shaped keys."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    parts = [json.dumps({"alg": alg, "typ": "JWT", **headers}), json.dumps(claims)]
    message = ".".join(b64(part.encode()) for part in parts)
    key_bytes = key.encode() if isinstance(key, str) else key
    signature = hmac.new(key_bytes, message.encode(), digest).digest()
    return f"{message}.{b64(signature)}"


def edited(token: str, **changes: Any) -> str:
    """The token with its payload edited and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64(json.dumps({**claims, **changes}).encode()), signature])


def with_header(token: str, **changes: Any) -> str:
    """The token with its header edited and the original signature kept."""
    header, payload, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return ".".join([b64(json.dumps({**fields, **changes}).encode()), payload, signature])


def without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != name}


@dataclass
class Victim:
    """A real, current session and the server's own signing key, to forge from."""

    token: str
    claims: dict[str, Any]
    kid: str
    key: Any  # the server's private key object
    alg: str

    def sign(self, claims: dict[str, Any], key: Any = None, **headers: Any) -> str:
        """Signed as the server signs (its key, its kid) unless told otherwise."""
        alg = headers.pop("alg", self.alg)
        headers = {"kid": self.kid, **headers}
        return jwt.encode(claims, self.key if key is None else key, algorithm=alg, headers=headers)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


Forgery = Callable[[Victim], str]
NOW = int(time.time())
FORGERIES: dict[str, Forgery] = {
    "alg-none": lambda v: unsigned({"alg": "none", "typ": "JWT", "kid": v.kid}, v.claims),
    "alg-None": lambda v: unsigned({"alg": "None", "typ": "JWT", "kid": v.kid}, v.claims),
    "alg-none-with-signature": lambda v: with_header(v.token, alg="none"),
    "no-alg": lambda v: unsigned({"kid": v.kid}, v.claims, v.token.split(".")[2]),
    # Algorithm confusion: the published public key used as an HMAC secret.
    "hs256-public-key-pem": lambda v: hmac_signed(v.claims, v.public_pem(), kid=v.kid),
    "hs256-public-key-pem-no-newline": lambda v: hmac_signed(
        v.claims, v.public_pem().strip(), kid=v.kid
    ),
    "hs256-jwt-secret": lambda v: hmac_signed(v.claims, TEST_SECRET, kid=v.kid),
    "hs256-empty-key": lambda v: hmac_signed(v.claims, "", kid=v.kid),
    "es384-header": lambda v: with_header(v.token, alg="ES384"),
    "rs256-header": lambda v: with_header(v.token, alg="RS256"),
    "eddsa-header": lambda v: with_header(v.token, alg="EdDSA"),
    "ps256-header": lambda v: with_header(v.token, alg="PS256"),
    "attacker-ec-key-right-kid": lambda v: v.sign(v.claims, ATTACKER_EC, alg="ES256"),
    "attacker-ed-key-right-kid": lambda v: v.sign(v.claims, ATTACKER_ED, alg="EdDSA"),
    "attacker-rsa-key-right-kid": lambda v: v.sign(v.claims, ATTACKER_RSA, alg="RS256"),
    "attacker-key-own-kid": lambda v: v.sign(v.claims, ATTACKER_EC, alg="ES256", kid="attacker"),
    # CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    "zero-signature": lambda v: ".".join([*v.token.split(".")[:2], b64(bytes(64))]),
    "empty-signature": lambda v: ".".join([*v.token.split(".")[:2], ""]),
    "no-kid": lambda v: jwt.encode(v.claims, v.key, algorithm=v.alg),
    "wrong-kid": lambda v: v.sign(v.claims, kid="x" + v.kid),
    "kid-number": lambda v: with_header(v.token, kid=1),
    "kid-list": lambda v: with_header(v.token, kid=[v.kid]),
    "kid-object": lambda v: with_header(v.token, kid={"kid": v.kid}),
    "kid-dev-null": lambda v: hmac_signed(v.claims, "", kid="../../../../dev/null"),
    "kid-sql": lambda v: hmac_signed(v.claims, ATTACKER_KEY, kid="x' UNION SELECT 'attacker-key"),
    "edited-subject": lambda v: edited(v.token, sub=str(int(v.claims["sub"]) + 1)),
    "edited-version": lambda v: edited(v.token, sv=v.claims["sv"] + 1),
    "edited-expiry": lambda v: edited(v.token, exp=v.claims["exp"] + 86_400),
    "edited-audience": lambda v: edited(v.token, aud="other-service"),
    "expired": lambda v: v.sign({**v.claims, "iat": NOW - 4000, "exp": NOW - 61}),
    "no-exp": lambda v: v.sign(without(v.claims, "exp")),
    "future-nbf": lambda v: v.sign({**v.claims, "nbf": NOW + 3600}),
    "typ-refresh": lambda v: v.sign({**v.claims, "typ": "refresh"}),
    "no-typ": lambda v: v.sign(without(v.claims, "typ")),
    "no-session": lambda v: v.sign(without(v.claims, "sid")),
    "other-session": lambda v: v.sign({**v.claims, "sid": "00000000-0000-4000-8000-000000000000"}),
    "string-version": lambda v: v.sign({**v.claims, "sv": str(v.claims["sv"])}),
    "wrong-issuer": lambda v: v.sign({**v.claims, "iss": "https://attacker.example"}),
    "no-issuer": lambda v: v.sign(without(v.claims, "iss")),
    "wrong-audience": lambda v: v.sign({**v.claims, "aud": "other-service"}),
    "audience-list-without-ours": lambda v: v.sign({**v.claims, "aud": ["a", "b"]}),
    "no-audience": lambda v: v.sign(without(v.claims, "aud")),
    "jwk-attacker-key": lambda v: jwt.encode(
        v.claims, ATTACKER_EC, algorithm="ES256", headers={"jwk": ATTACKER_JWK}
    ),
    "jwk-attacker-key-right-kid": lambda v: v.sign(
        v.claims, ATTACKER_EC, alg="ES256", jwk=ATTACKER_JWK
    ),
    "jwk-right-key": lambda v: v.sign(v.claims, jwk={"kty": "oct", "k": b64(b"x")}),
    "jku-right-key": lambda v: v.sign(v.claims, jku="https://attacker.example/jwks.json"),
    "x5u-right-key": lambda v: v.sign(v.claims, x5u="https://attacker.example/cert.pem"),
    "x5c-right-key": lambda v: v.sign(v.claims, x5c=["MIIB"]),
    "crit-right-key": lambda v: v.sign(v.claims, crit=["exp"]),
    "truncated": lambda v: v.token.rsplit(".", 1)[0],
    "oversized": lambda v: v.sign({**v.claims, "pad": "x" * 5000}),
}


def victim_of(api: Any, session: dict[str, Any]) -> Victim:
    token = session["accessToken"]
    signing = api.app.state.deps.tokens.signing_key
    claims = jwt.decode(token, options={"verify_signature": False})
    return Victim(token, claims, signing.kid, signing.key, signing.algorithm)


@pytest.fixture
async def victim(api) -> Victim:
    return victim_of(api, await signup_verified(api))


async def test_tokens_are_es256_by_default_and_name_their_key(api, victim):
    header = jwt.get_unverified_header(victim.token)
    assert header["alg"] == "ES256" and header["kid"] == victim.kid
    assert victim.claims["iss"] == "phonegate" and victim.claims["aud"] == "phonegate"


async def test_a_control_token_forged_the_same_way_is_accepted(api, victim):
    control = victim.sign(victim.claims)
    me = await api.run(d.ME, token=control)
    assert me is not None and me["id"] == victim.claims["sub"]


@pytest.mark.parametrize("name", list(FORGERIES))
async def test_a_forged_access_token_is_refused(api, victim, name):
    # given
    forged = FORGERIES[name](victim)
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
    claims = victim.claims
    just_expired = victim.sign({**claims, "exp": int(time.time()) - 10})
    long_expired = victim.sign({**claims, "exp": int(time.time()) - 61})
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


async def test_in_hs256_mode_only_the_secret_under_its_kid_is_accepted(make_settings, start_app):
    async with start_app(make_settings(JWT_ALGORITHM="HS256", JWT_PRIVATE_KEY="")) as api:
        # given
        v = victim_of(api, await signup_verified(api))
        control = hmac_signed(v.claims, TEST_SECRET, kid=v.kid)
        forged = {
            "no-kid": hmac_signed(v.claims, TEST_SECRET),
            "other-kid": hmac_signed(v.claims, TEST_SECRET, kid="x" + v.kid),
            "hs512": hmac_signed(v.claims, TEST_SECRET, alg="HS512", kid=v.kid),
            "es256-header": with_header(v.token, alg="ES256"),
            "alg-none": unsigned({"alg": "none", "kid": v.kid}, v.claims),
            "wrong-audience": hmac_signed({**v.claims, "aud": "x"}, TEST_SECRET, kid=v.kid),
            "wrong-key": hmac_signed(v.claims, ATTACKER_KEY, kid=v.kid),
        }
        # when
        accepted = await api.run(d.ME, token=control)
        refused = {name: await api.run(d.ME, token=token) for name, token in forged.items()}
    # then
    assert accepted is not None and accepted["id"] == v.claims["sub"]
    assert refused == dict.fromkeys(forged)

"""Access tokens any service can check: the JWKS, the algorithms, where keys come from,
rotation, and a separate resource server that verifies phonegate's tokens over real HTTP.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core import settings as config
from core.settings import Settings, SettingsError
from server.app import create_app
from server.jwks import JWKS_PATH, local_key_path, token_keys
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import CODE_RE, STRONG_PASSWORD, RecordingSender, new_phone

ROOT = Path(__file__).resolve().parent.parent


def pem(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_file(folder: Path, name: str, key: Any) -> str:
    path = folder / name
    path.write_bytes(pem(key))
    return str(path)


# --- the published key set ------------------------------------------------------------


async def test_the_jwks_publishes_the_key_that_signed_a_token_with_cache_headers(api):
    # given
    session = await signup_verified(api)
    header = jwt.get_unverified_header(session["accessToken"])
    # when
    response = await api.http.get(JWKS_PATH)
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert key["kid"] == header["kid"] and key["alg"] == "ES256" and key["use"] == "sig"
    assert key["kty"] == "EC" and key["crv"] == "P-256" and "d" not in key  # public half only
    verified = jwt.decode(
        session["accessToken"],
        jwt.PyJWK(key).key,
        algorithms=["ES256"],
        issuer="phonegate",
        audience="phonegate",
    )
    assert verified["sub"] == session["user"]["id"]


async def test_an_unchanged_jwks_answers_not_modified(api):
    first = await api.http.get(JWKS_PATH)
    again = await api.http.get(JWKS_PATH, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize(
    ("algorithm", "kty"), [("ES256", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")]
)
async def test_each_algorithm_signs_tokens_that_its_published_key_verifies(
    make_settings, start_app, tmp_path, monkeypatch, algorithm, kty
):
    # given: a development server generating its key of that kind
    monkeypatch.chdir(tmp_path)
    settings = make_settings(
        JWT_ALGORITHM=algorithm, JWT_ISSUER="https://id.example", JWT_PRIVATE_KEY=""
    )
    async with start_app(settings) as api:
        session = await signup_verified(api)
        token = session["accessToken"]
        # when
        (key,) = (await api.http.get(JWKS_PATH)).json()["keys"]
        me = await api.run(d.ME, token=token)
    # then
    assert jwt.get_unverified_header(token)["alg"] == algorithm and key["kty"] == kty
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=[algorithm],
        issuer="https://id.example",
        audience="phonegate",
    )
    assert claims["sub"] == me["id"] == session["user"]["id"]


async def test_hs256_chosen_explicitly_signs_with_the_secret_and_publishes_nothing(
    make_settings, start_app
):
    async with start_app(make_settings(JWT_ALGORITHM="HS256", JWT_PRIVATE_KEY="")) as api:
        session = await signup_verified(api)
        published = await api.http.get(JWKS_PATH)
    header = jwt.get_unverified_header(session["accessToken"])
    assert header["alg"] == "HS256" and header["kid"]
    assert published.status_code == 404


# --- where the signing key comes from ------------------------------------------------------


def test_a_generated_key_is_shared_by_workers_starting_together_and_kept(tmp_path):
    # given: three "workers" that each load the settings at the same moment, no key yet
    script = (
        "from core import settings; from server.jwks import token_keys;"
        "print(token_keys(settings.load(environ={'JWT_SECRET': 'w' * 40}))[0].kid)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )

    # when
    workers = [start() for _ in range(3)]
    kids = {w.communicate(timeout=60)[0].strip() for w in workers}
    restarted = start().communicate(timeout=60)[0].strip()
    # then: one key, the same after a restart, readable by its owner only, no drafts left
    assert len(kids) == 1 and kids == {restarted} and restarted
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [local_key_path("ES256").name]
    assert (tmp_path / files[0]).stat().st_mode & 0o077 == 0


def test_the_key_from_the_environment_and_from_a_file_are_the_same_key(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    from_file = config.load(
        environ={"JWT_SECRET": "s" * 40, "JWT_PRIVATE_KEY_FILE": key_file(tmp_path, "k.pem", key)}
    )
    from_env = config.load(environ={"JWT_SECRET": "s" * 40, "JWT_PRIVATE_KEY": pem(key).decode()})
    assert token_keys(from_file)[0].kid == token_keys(from_env)[0].kid
    assert "PRIVATE KEY" not in repr(from_env)


def test_the_private_key_is_never_a_command_line_flag(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--jwt-private-key=x", "export-schema"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "JWT_PRIVATE_KEY is a secret" in run.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_ENV": "production", "SMS_BACKEND": "twilio"}, "production needs JWT_PRIVATE_KEY"),
        ({"JWT_ALGORITHM": "HS512"}, "JWT_ALGORITHM='HS512'"),
        ({"JWT_ALGORITHM": "HS256", "JWT_PRIVATE_KEY": "x"}, "HS256 signs with JWT_SECRET"),
        ({"JWT_PRIVATE_KEY_FILE": "/nope.pem"}, "JWT_PRIVATE_KEY_FILE='/nope.pem': cannot be read"),
        ({"JWT_PRIVATE_KEY_FILE": "k.pem", "JWT_PRIVATE_KEY": "x"}, "both set"),
        ({"JWT_AUDIENCE": ""}, "JWT_AUDIENCE"),
    ],
)
def test_contradictory_signing_settings_refuse_to_start(env, message):
    production = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t" * 32,
        "TWILIO_FROM_NUMBER": "+15005550006",
    }
    with pytest.raises(SettingsError) as error:
        config.load(environ={"JWT_SECRET": "s" * 40, **production, **env})
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("algorithm", "key", "message"),
    [
        ("ES256", lambda: ed25519.Ed25519PrivateKey.generate(), "does not fit"),
        ("EdDSA", lambda: ec.generate_private_key(ec.SECP256R1()), "does not fit"),
        ("ES256", lambda: ec.generate_private_key(ec.SECP384R1()), "needs a P-256 key"),
        ("RS256", lambda: rsa.generate_private_key(65537, 1024), "at least 2048 bits"),
    ],
)
def test_a_key_that_does_not_fit_the_algorithm_refuses_to_start(
    tmp_path, algorithm, key: Callable[[], Any], message
):
    settings = config.load(
        environ={
            "JWT_SECRET": "s" * 40,
            "JWT_ALGORITHM": algorithm,
            "JWT_PRIVATE_KEY_FILE": key_file(tmp_path, "k.pem", key()),
        }
    )
    with pytest.raises(SettingsError, match=message):
        token_keys(settings)


def test_unreadable_keys_refuse_to_start_with_the_option_named(tmp_path):
    (tmp_path / "garbage.pem").write_text("not a key")
    garbage = str(tmp_path / "garbage.pem")
    bad_private = config.load(environ={"JWT_SECRET": "s" * 40, "JWT_PRIVATE_KEY_FILE": garbage})
    bad_retired = config.load(
        environ={"JWT_SECRET": "s" * 40, "JWT_RETIRED_PUBLIC_KEYS_FILE": garbage}
    )
    missing = config.load(environ={"JWT_SECRET": "s" * 40, "JWT_RETIRED_PUBLIC_KEYS_FILE": "/no"})
    with pytest.raises(SettingsError, match=r"JWT_PRIVATE_KEY\(_FILE\) must be an unencrypted PEM"):
        token_keys(bad_private)
    with pytest.raises(SettingsError, match="JWT_RETIRED_PUBLIC_KEYS_FILE must hold PEM public"):
        token_keys(bad_retired)
    with pytest.raises(SettingsError, match="JWT_RETIRED_PUBLIC_KEYS_FILE='/no': cannot be read"):
        token_keys(missing)


def test_a_key_that_cannot_be_used_stops_the_start_in_one_line(tmp_path):
    # given: an Ed25519 key for the default ES256
    key = key_file(tmp_path, "k.pem", ed25519.Ed25519PrivateKey.generate())
    env = {
        **os.environ,
        "JWT_SECRET": "s" * 40,
        "JWT_PRIVATE_KEY_FILE": key,
        "PORT": str(free_port()),
    }
    # when
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env={k: v for k, v in env.items() if not k.startswith("PHONEGATE_")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then: before any worker starts, no traceback
    assert run.returncode == 1
    assert "phonegate: cannot start: JWT_ALGORITHM=ES256 does not fit the signing key" in (
        run.stderr
    )
    assert "Traceback" not in run.stderr


async def test_verifying_a_token_parses_no_pem(api, monkeypatch):
    # given: a token, then every PEM parser PyJWT could reach made to fail
    session = await signup_verified(api)

    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a PEM was parsed on the request path")

    for name in ("load_pem_public_key", "load_pem_private_key", "load_ssh_public_key"):
        monkeypatch.setattr(jwt.algorithms, name, no_parsing)
        monkeypatch.setattr(serialization, name, no_parsing)
    # when
    me = await api.run(d.ME, token=session["accessToken"])
    # then: the key objects parsed at start-up did the work
    assert me is not None and me["id"] == session["user"]["id"]


# --- a resource server that checks phonegate's tokens over real HTTP ------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """An ASGI app under uvicorn in a thread of its own on a loopback port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


RESOURCE_CACHE_SECONDS = 1  # a real service keeps the key set for the max-age (300 s)


def resource_server(phonegate: str) -> Starlette:
    """Another team's API: it knows phonegate's JWKS URL, issuer and audience, no secret.
    This is the README's Python recipe."""
    jwks = jwt.PyJWKClient(f"{phonegate}/.well-known/jwks.json", lifespan=RESOURCE_CACHE_SECONDS)

    def orders(request: Request) -> JSONResponse:  # sync: PyJWKClient fetches with urllib
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key, algorithms=["ES256"], issuer="phonegate", audience="phonegate"
            )
        except jwt.PyJWTError as e:
            return JSONResponse({"error": type(e).__name__}, status_code=401)
        return JSONResponse({"user": claims["sub"], "orders": []})

    return Starlette(routes=[Route("/orders", orders)])


class Phonegate:
    """phonegate under uvicorn on a fixed port, restartable with other key settings."""

    def __init__(self, make_settings: Callable[..., Settings]) -> None:
        self.make_settings = make_settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sms = RecordingSender()

    @contextlib.contextmanager
    def running(self, **env: str) -> Iterator[None]:
        app = create_app(self.make_settings(**env), sender=self.sms)
        with serving(app, self.port):
            yield

    def graphql(self, query: str, variables: dict[str, Any], token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables}
        answer = httpx.post(f"{self.url}/graphql", json=body, headers=headers, trust_env=False)
        body = answer.json()
        assert "data" in body, body
        (value,) = body["data"].values()
        return value

    def signup(self) -> dict[str, Any]:
        phone = new_phone()
        sent = self.graphql(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        assert sent["__typename"] == "VerificationSent", sent
        deadline = time.monotonic() + 10
        while not self.sms.to(phone, "verify_signup"):
            assert time.monotonic() < deadline, "no verification SMS"
            time.sleep(0.05)
        match = CODE_RE.search(self.sms.to(phone, "verify_signup")[0].body)
        assert match
        verify = {"phone": phone, "code": match[1], "challenge": sent["challenge"]}
        verified = self.graphql(d.VERIFY_PHONE, {"input": verify})
        return {**verified, "phone": phone}  # type: ignore[no-any-return]

    def login(self, phone: str) -> dict[str, Any]:
        session = self.graphql(
            d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}}
        )
        assert session["__typename"] == "Session", session
        return session  # type: ignore[no-any-return]


def ask(service: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{service}/orders", headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )


def test_a_resource_server_checks_tokens_with_the_jwks_through_logout_and_rotation(
    make_settings, tmp_path
):
    old, new = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    old_key, new_key = pem(old).decode(), pem(new).decode()
    retired = tmp_path / "retired.pem"
    retired.write_bytes(public_pem(old))
    phonegate = Phonegate(make_settings)
    with serving(resource_server(phonegate.url), free_port()) as service:
        # given: phonegate signing with the old key
        with phonegate.running(JWT_PRIVATE_KEY=old_key):
            session = phonegate.signup()
            first = session["accessToken"]
            # then a fresh token is accepted by the other service, a forged one is not
            assert ask(service, first).json() == {"user": session["user"]["id"], "orders": []}
            assert ask(service, first[:-4] + "AAAA").status_code == 401
            # when the person logs out
            out = phonegate.graphql(d.LOGOUT, {"refreshToken": session["refreshToken"]}, first)
            assert out["__typename"] == "LoggedOut"
            # then phonegate refuses the token at once; the other service, checking only
            # the signature, accepts it until it expires
            assert phonegate.graphql(d.ME, {}, first) is None
            assert ask(service, first).status_code == 200
            old_token = phonegate.login(session["phone"])["accessToken"]

        # when the key is rotated: the new key signs at once, the old one stays published
        with phonegate.running(JWT_PRIVATE_KEY=new_key, JWT_RETIRED_PUBLIC_KEYS_FILE=str(retired)):
            new_token = phonegate.login(session["phone"])["accessToken"]
            # A service fetches again for an unknown kid at most once per 30 s (PyJWKClient's
            # cooldown, README); here its cached set expires first.
            time.sleep(RESOURCE_CACHE_SECONDS + 0.2)
            # then both verify, at phonegate and at the service
            assert (
                jwt.get_unverified_header(new_token)["kid"]
                != jwt.get_unverified_header(old_token)["kid"]
            )
            assert ask(service, new_token).status_code == 200
            assert ask(service, old_token).status_code == 200
            assert phonegate.graphql(d.ME, {}, old_token) is not None

        # when the retired key is removed (its tokens have expired in real life)
        with phonegate.running(JWT_PRIVATE_KEY=new_key):
            time.sleep(RESOURCE_CACHE_SECONDS + 0.2)  # the service's cached key set is stale
            # then a token it signed is refused by both, the new key's tokens still pass
            assert ask(service, old_token).status_code == 401
            assert phonegate.graphql(d.ME, {}, old_token) is None
            assert ask(service, new_token).status_code == 200
            published = httpx.get(f"{phonegate.url}{JWKS_PATH}", trust_env=False).json()
            assert [k["kid"] for k in published["keys"]] == [
                jwt.get_unverified_header(new_token)["kid"]
            ]

"""The access-token key set: the signing key, the retired keys still published, and
``GET /.well-known/jwks.json`` (RFC 7517) from which any service checks tokens.

Where the signing key comes from: ``JWT_PRIVATE_KEY`` (PEM; a secret, so from the
environment or the file named by ``JWT_PRIVATE_KEY_FILE``, never a flag); outside
production without it, a key generated once and kept beside the development secret
(``.phonegate-signing-key-<alg>.pem``). Workers and restarts share that file: a worker
writes its key aside and links it into place, so when two start together the first link
wins and both read the one key that won, never a half-written file.
With ``JWT_ALGORITHM=HS256`` the tokens are signed with ``JWT_SECRET`` and nothing is
published (a shared secret cannot be).

Rotation: the new key signs from the moment it is configured; the old key's public half
goes into ``JWT_RETIRED_PUBLIC_KEYS_FILE`` (any number of PEM public keys), which keeps it
published and accepted until it is removed, after its last token has expired (README).
A key's ``kid`` is its RFC 7638 thumbprint, so nothing has to be named by hand and the same
key has the same ``kid`` in every worker. Keys are parsed once, here, at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import settings as config
from core.settings import Settings, SettingsError
from resolvers.deps import derive_key
from resolvers.tokens import TokenKey

JWKS_PATH = "/.well-known/jwks.json"
# How long a service may keep the set. One that meets an unknown kid fetches again anyway
# (PyJWKClient and jose, at most once per their 30 s cooldown); publishing a new key one
# max-age before it signs hides a rotation entirely (README, "Tokens for other services").
JWKS_MAX_AGE_SECONDS = 300
MIN_RSA_BITS = 2048


def token_keys(settings: Settings) -> tuple[TokenKey, dict[str, TokenKey]]:
    """The signing key and every key a token may name (by kid), from the settings."""
    if settings.jwt_algorithm == "HS256":
        secret = settings.jwt_secret.encode()
        kid = _b64(derive_key(settings.jwt_secret, "access-token-kid")[:12])
        key = TokenKey(kid, "HS256", secret)
        return key, {kid: key}
    private = _private_key(settings)
    signing = TokenKey(_thumbprint(private.public_key()), settings.jwt_algorithm, private)
    verify = {k.kid: k for k in _retired_keys(settings.jwt_retired_public_keys_file)}
    verify[signing.kid] = _public(private.public_key())
    return signing, verify


def jwks(keys: dict[str, TokenKey]) -> dict[str, Any]:
    """The public keys as an RFC 7517 key set (empty for HS256)."""
    return {
        "keys": [
            {**_jwk(key.key), "kid": key.kid, "alg": key.algorithm, "use": "sig"}
            for key in keys.values()
            if key.algorithm != "HS256"
        ]
    }


def jwks_route(keys: dict[str, TokenKey]) -> Route:
    key_set = jwks(keys)
    body = json.dumps(key_set, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        "Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}",
        "ETag": etag,
    }

    async def published(request: Request) -> Response:
        if not key_set["keys"]:
            return JSONResponse({"error": "JWT_ALGORITHM=HS256: no public keys"}, 404)
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/jwk-set+json", headers=headers)

    return Route(JWKS_PATH, published, methods=["GET"])


# --- reading and making keys ------------------------------------------------------------


def _private_key(settings: Settings) -> Any:  # cryptography's private key union
    if settings.jwt_private_key:  # from the environment or JWT_PRIVATE_KEY_FILE
        pem = settings.jwt_private_key.encode()
    else:
        pem = _local_key(settings.jwt_algorithm)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise _error("JWT_PRIVATE_KEY(_FILE) must be an unencrypted PEM private key") from None
    _check_fits(key.public_key(), settings.jwt_algorithm, "the signing key")
    return key


def _retired_keys(path: str) -> list[TokenKey]:
    if not path:
        return []
    text = _read(path, "JWT_RETIRED_PUBLIC_KEYS_FILE").decode()
    end = "-----END PUBLIC KEY-----"
    blocks = [part + end for part in text.split(end) if part.strip()]
    keys = []
    for block in blocks:
        try:
            public = serialization.load_pem_public_key(block.strip().encode())
        except ValueError:
            raise _error(
                "JWT_RETIRED_PUBLIC_KEYS_FILE must hold PEM public keys (BEGIN PUBLIC KEY)"
            ) from None
        keys.append(_public(public))
    return keys


def _public(public: Any) -> TokenKey:
    algorithm = _algorithm_of(public)
    _check_fits(public, algorithm, "a retired key")
    return TokenKey(_thumbprint(public), algorithm, public)


def _algorithm_of(public: Any) -> str:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    if isinstance(public, rsa.RSAPublicKey):
        return "RS256"
    raise _error(f"JWT keys must be EC P-256, Ed25519 or RSA, not {type(public).__name__}")


def _check_fits(public: Any, algorithm: str, what: str) -> None:
    if _algorithm_of(public) != algorithm:
        raise _error(f"JWT_ALGORITHM={algorithm} does not fit {what}")
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name != "secp256r1":
        raise _error(f"ES256 needs a P-256 key, {what} is on {public.curve.name}")
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise _error(f"RS256 needs at least {MIN_RSA_BITS} bits, {what} has fewer")


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise _error(f"{option}={path!r}: cannot be read ({e.strerror})") from None


def _error(problem: str) -> SettingsError:
    return SettingsError([problem])


def local_key_path(algorithm: str) -> Path:
    return Path(config.SECRET_FILE).with_name(f".phonegate-signing-key-{algorithm.lower()}.pem")


def _local_key(algorithm: str) -> bytes:
    """Outside production: a key generated once, kept beside the secret file."""
    path = local_key_path(algorithm)
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(new_key_pem(algorithm))
        try:
            os.link(draft, path)  # the first worker's key wins; the others read it
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes()


def new_key_pem(algorithm: str) -> bytes:
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- JWK form -----------------------------------------------------------------------------


def _jwk(public: Any) -> dict[str, Any]:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return dict(ECAlgorithm.to_jwk(public, as_dict=True))
    if isinstance(public, rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    return dict(OKPAlgorithm.to_jwk(public, as_dict=True))


# RFC 7638: the members each key type requires, in lexical order.
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}


def _thumbprint(public: Any) -> str:
    jwk = _jwk(public)
    required = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

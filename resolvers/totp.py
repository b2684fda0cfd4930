"""Second-factor primitives: TOTP secrets (RFC 6238, via pyotp) and recovery codes.

- A TOTP secret is stored only sealed: AES-GCM (``cryptography``) under a key derived from
  JWT_SECRET, bound to its user id as associated data, so a sealed secret copied to another
  row does not open.
- A code is accepted for the current 30-second step or one step either side (clock drift),
  and only for a step later than the last one accepted: ``last_step`` moves forward in one
  guarded UPDATE, so the same code twice (or two parallel uses of it) succeeds once.
- Recovery codes: ten per account, 80 random bits each, shown once, stored as
  HMAC-SHA256(key, user|code); one guarded UPDATE uses one, so of parallel uses one wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise.expressions import RawSQL

from core.clock import now
from models import RecoveryCode, TotpCredential
from resolvers.deps import derive_key

ISSUER = "phonegate"
STEP_SECONDS = 30
DRIFT_STEPS = 1
DIGITS = 6
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_BYTES = 10  # 80 bits, 16 base32 characters
NONCE_BYTES = 12


@dataclass(frozen=True)
class TotpKeys:
    """The keys second factors use, derived once from JWT_SECRET."""

    seal: bytes
    recovery: bytes

    @classmethod
    def from_secret(cls, jwt_secret: str) -> TotpKeys:
        return cls(
            seal=derive_key(jwt_secret, "totp-seal"),
            recovery=derive_key(jwt_secret, "recovery-code-hash"),
        )


def new_secret() -> str:
    """A fresh base32 TOTP secret of 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account_name: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (as a QR code) or imports."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def seal(keys: TotpKeys, user_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(keys.seal).encrypt(nonce, secret.encode(), _bound_to(user_id))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(keys: TotpKeys, user_id: int, sealed: str) -> str | None:
    """The secret, or None if the sealed text was not made for this user under this key."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        opened = AESGCM(keys.seal).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(user_id))
    except (InvalidTag, ValueError):
        return None
    return opened.decode()


def _bound_to(user_id: int) -> bytes:
    return f"phonegate-totp|{user_id}".encode()


def looks_like_totp(code: str) -> bool:
    code = code.strip()
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, at: datetime | None = None) -> int | None:
    """The time step within the drift window whose code is ``code``, if any."""
    code = code.strip()
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int((at or now()).timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every step is compared (no early exit), each in constant time.
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step
    return found


async def use_step(credential_id: int, step: int, *, sealed: str) -> bool:
    """Accept ``step`` for the credential if it is later than the last accepted one, and
    the secret is still the one the code was checked against: one guarded UPDATE."""
    updated = await TotpCredential.filter(
        id=credential_id, last_step__lt=step, secret_sealed=sealed
    ).update(last_step=step)
    return updated == 1


@dataclass(frozen=True)
class TotpMatch:
    """A code found right for a step not used yet; ``use_step`` makes it count, once."""

    credential_id: int
    step: int
    sealed: str


async def find_totp(keys: TotpKeys, user_id: int, code: str) -> TotpMatch | None:
    """The step a right, unused code of the account's TOTP is for; nothing is written."""
    credential = await TotpCredential.get_or_none(user_id=user_id, secret_sealed__isnull=False)
    if credential is None or credential.secret_sealed is None:
        return None
    secret = unseal(keys, user_id, credential.secret_sealed)
    step = matching_step(secret, code) if secret is not None else None
    if step is None or step <= credential.last_step:
        return None
    return TotpMatch(credential.id, step, credential.secret_sealed)


async def check_totp(keys: TotpKeys, user_id: int, code: str) -> bool:
    """True once for a right code of an account with TOTP on; False otherwise (wrong code,
    a step already used, TOTP off)."""
    match = await find_totp(keys, user_id, code)
    return match is not None and await use_step(
        match.credential_id, match.step, sealed=match.sealed
    )


async def totp_enabled(user_id: int) -> bool:
    return await TotpCredential.exists(user_id=user_id, secret_sealed__isnull=False)


# ``totp_enabled`` as a column of a SELECT of users: login reads the account and whether
# TOTP is on in one statement (bench/README.md, issue 17: a statement is the ORM's largest
# cost per request). The same rule as above, on the same table.
TOTP_ON = RawSQL(
    "EXISTS (SELECT 1 FROM totp_credentials AS t"
    " WHERE t.user_id = users.id AND t.secret_sealed IS NOT NULL)"
)


# --- recovery codes ---------------------------------------------------------------------


def new_recovery_code() -> str:
    """80 random bits as 16 base32 characters in groups of four: "abcd-efgh-ijkl-mnop"."""
    text = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize_recovery_code(code: str) -> str:
    """As typed (any case, with or without dashes or spaces) to the form that is hashed."""
    return "".join(c for c in code.strip().lower() if c not in "- ")


def recovery_hash(keys: TotpKeys, user_id: int, code: str) -> str:
    message = f"recovery|{user_id}|{normalize_recovery_code(code)}".encode()
    return hmac.new(keys.recovery, message, hashlib.sha256).hexdigest()


async def replace_recovery_codes(keys: TotpKeys, user_id: int) -> list[str]:
    """Ten new codes for the account, ending every earlier one; call in a transaction."""
    await RecoveryCode.filter(user_id=user_id).delete()
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    await RecoveryCode.bulk_create(
        [RecoveryCode(user_id=user_id, code_hash=recovery_hash(keys, user_id, c)) for c in codes]
    )
    return codes


async def use_recovery_code(keys: TotpKeys, user_id: int, code: str) -> bool:
    """True once for an unused recovery code of the account: one guarded UPDATE decides."""
    normalized = normalize_recovery_code(code)
    if not normalized or len(normalized) > 64:
        return False
    used = await RecoveryCode.filter(
        user_id=user_id, code_hash=recovery_hash(keys, user_id, normalized), used_at=None
    ).update(used_at=now())
    return used == 1


async def recovery_code_unused(keys: TotpKeys, user_id: int, code: str) -> bool:
    """Whether ``code`` is an unused recovery code of the account; nothing is written."""
    normalized = normalize_recovery_code(code)
    if not normalized or len(normalized) > 64:
        return False
    return await RecoveryCode.exists(
        user_id=user_id, code_hash=recovery_hash(keys, user_id, normalized), used_at=None
    )


async def recovery_codes_left(user_id: int) -> int:
    return await RecoveryCode.filter(user_id=user_id, used_at=None).count()

"""Settings: every option of the contract, read from the environment and validated once.

Each option has an environment variable (API.md) and a command-line flag in main.py.
A bad value raises ``SettingsError`` with one line naming the variable and the problem.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

ENVIRONMENTS = ("development", "test", "production")
SMS_BACKENDS = ("console", "twilio")
DB_SCHEMES = ("sqlite", "postgres", "asyncpg", "psycopg")
SECRET_FILE = ".phonegate-secret"


class SettingsError(ValueError):
    """One bad setting, described in one line."""


@dataclass(frozen=True)
class Option:
    env: str
    help: str
    kind: type = str
    default: Any = None


def _opt(env: str, help: str, kind: type = str, default: Any = None) -> Any:
    return field(default=default, metadata={"option": Option(env, help, kind, default)})


@dataclass(frozen=True)
class Settings:
    app_env: str = _opt("APP_ENV", "development, test or production", str, "development")
    host: str = _opt("HOST", "address to listen on", str, "127.0.0.1")
    port: int = _opt("PORT", "port to listen on", int, 8000)
    web_concurrency: int = _opt("WEB_CONCURRENCY", "worker processes", int, 1)
    forwarded_allow_ips: str = _opt(
        "FORWARDED_ALLOW_IPS", "proxies trusted for X-Forwarded-For", str, "127.0.0.1"
    )
    database_url: str = _opt(
        "DATABASE_URL", "Tortoise database URL", str, "sqlite://phonegate.sqlite3"
    )
    jwt_secret: str = _opt("JWT_SECRET", "HS256 signing key, at least 32 bytes", str, "")
    access_token_ttl_seconds: int = _opt(
        "ACCESS_TOKEN_TTL_SECONDS", "access token lifetime", int, 900
    )
    refresh_token_ttl_seconds: int = _opt(
        "REFRESH_TOKEN_TTL_SECONDS", "refresh token lifetime", int, 2_592_000
    )
    sms_backend: str = _opt("SMS_BACKEND", "console or twilio", str, "console")
    twilio_account_sid: str = _opt("TWILIO_ACCOUNT_SID", "Twilio account SID", str, "")
    twilio_auth_token: str = _opt("TWILIO_AUTH_TOKEN", "Twilio auth token", str, "")
    twilio_from_number: str = _opt("TWILIO_FROM_NUMBER", "sender number", str, "")
    twilio_messaging_service_sid: str = _opt(
        "TWILIO_MESSAGING_SERVICE_SID", "sender messaging service", str, ""
    )
    twilio_api_base_url: str = _opt(
        "TWILIO_API_BASE_URL", "where the Twilio SDK sends requests", str, "https://api.twilio.com"
    )
    twilio_timeout_seconds: float = _opt(
        "TWILIO_TIMEOUT_SECONDS", "bound on one Twilio API call", float, 10.0
    )
    public_base_url: str = _opt(
        "PUBLIC_BASE_URL", "externally visible URL, for status callbacks", str, ""
    )
    verification_code_length: int = _opt("VERIFICATION_CODE_LENGTH", "digits in a code", int, 6)
    verification_code_ttl_seconds: int = _opt(
        "VERIFICATION_CODE_TTL_SECONDS", "a code's lifetime", int, 600
    )
    verification_max_attempts: int = _opt(
        "VERIFICATION_MAX_ATTEMPTS", "wrong guesses before a code is dead", int, 5
    )
    resend_cooldown_seconds: int = _opt(
        "RESEND_COOLDOWN_SECONDS", "minimum gap between two codes to one phone", int, 30
    )
    resend_cooldown_max_seconds: int = _opt(
        "RESEND_COOLDOWN_MAX_SECONDS", "cap of the doubling resend cooldown", int, 900
    )
    password_min_length: int = _opt("PASSWORD_MIN_LENGTH", "in code points", int, 8)
    password_max_length: int = _opt("PASSWORD_MAX_LENGTH", "in code points", int, 256)
    argon2_memory_kib: int = _opt("ARGON2_MEMORY_KIB", "argon2id memory cost", int, 19456)
    argon2_time_cost: int = _opt("ARGON2_TIME_COST", "argon2id iterations", int, 2)
    argon2_parallelism: int = _opt("ARGON2_PARALLELISM", "argon2id lanes", int, 1)
    hash_concurrency: int = _opt(
        "HASH_CONCURRENCY",
        "password hashes computed at once per worker (0 = the cores shared out among the workers)",
        int,
        0,
    )
    rate_limit_storage: str = _opt(
        "RATE_LIMIT_STORAGE", "memory:// or redis://host:6379/0", str, "memory://"
    )
    rate_limits: str = _opt(
        "RATE_LIMITS", "overrides of named limits, e.g. 'sms_per_client=20/hour'", str, ""
    )
    sms_allowed_countries: str = _opt(
        "SMS_ALLOWED_COUNTRIES", "ISO 3166 codes that may receive SMS (empty: all)", str, ""
    )
    test_phone_codes: str = _opt(
        "TEST_PHONE_CODES", "+15005550006=123456,...: fixed codes, no SMS", str, ""
    )
    cors_origins: str = _opt("CORS_ORIGINS", "origins allowed from a browser", str, "")
    sms_templates_file: str = _opt(
        "SMS_TEMPLATES_FILE", "JSON file overriding message templates", str, ""
    )
    webotp_domain: str = _opt(
        "WEBOTP_DOMAIN", "adds '@domain #code' to code messages for autofill", str, ""
    )
    outbox_max_attempts: int = _opt(
        "OUTBOX_MAX_ATTEMPTS", "provider tries before a message is abandoned", int, 20
    )
    outbox_retry_base_seconds: float = _opt(
        "OUTBOX_RETRY_BASE_SECONDS", "wait after a first failed try, doubling", float, 1.0
    )
    outbox_retry_max_seconds: float = _opt(
        "OUTBOX_RETRY_MAX_SECONDS", "longest wait between two tries", float, 60.0
    )
    outbox_lease_seconds: float = _opt(
        "OUTBOX_LEASE_SECONDS", "after this a dead worker's message is taken over", float, 15.0
    )
    outbox_poll_seconds: float = _opt(
        "OUTBOX_POLL_SECONDS", "how often a worker looks for due messages when idle", float, 1.0
    )
    outbox_concurrency: int = _opt(
        "OUTBOX_CONCURRENCY", "messages one worker process sends at once", int, 16
    )
    metrics_token: str = _opt(
        "METRICS_TOKEN", "bearer token for /metrics (empty: open in development only)", str, ""
    )
    metrics_port: int = _opt(
        "METRICS_PORT", "serve /metrics on this port only, off the public one (0: public)", int, 0
    )
    log_format: str = _opt("LOG_FORMAT", "text or json (json in production)", str, "")
    unverified_ttl_seconds: int = _opt(
        "UNVERIFIED_TTL_SECONDS", "how long an unverified signup holds its phone", int, 86_400
    )

    # --- derived views -------------------------------------------------------------------

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def development(self) -> bool:
        return self.app_env == "development"

    @property
    def allowed_countries(self) -> frozenset[str]:
        return frozenset(_split(self.sms_allowed_countries.upper()))

    @property
    def test_codes(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in _split(self.test_phone_codes))

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def trusted_proxies(self) -> list[str]:
        return _split(self.forwarded_allow_ips)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def options() -> list[tuple[str, Option]]:
    """(field name, option) for every setting, in declaration order."""
    return [(f.name, f.metadata["option"]) for f in fields(Settings)]


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (and explicit overrides), validated."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, opt in options():
        raw = overrides.get(name)
        if raw is None and opt.env in env:
            raw = env[opt.env]
        if raw is not None:
            values[name] = _convert(opt, raw)
    settings = Settings(**values)
    _validate(settings)
    if not settings.jwt_secret:
        settings = _with_local_secret(settings)
    return settings


def _convert(opt: Option, raw: Any) -> Any:
    if opt.kind is str:
        return str(raw)
    try:
        return opt.kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{opt.env}={raw!r} is not a valid {opt.kind.__name__}") from None


def _validate(s: Settings) -> None:
    _check(s.app_env in ENVIRONMENTS, f"APP_ENV={s.app_env!r} must be one of {ENVIRONMENTS}")
    _check(0 < s.port < 65536, f"PORT={s.port} must be between 1 and 65535")
    _check(s.web_concurrency >= 1, "WEB_CONCURRENCY must be at least 1")
    _check(
        urlsplit(s.database_url).scheme in DB_SCHEMES,
        f"DATABASE_URL={s.database_url!r} must start with sqlite:// or postgres://",
    )
    _check(s.sms_backend in SMS_BACKENDS, f"SMS_BACKEND={s.sms_backend!r} must be console/twilio")
    secret_len = len(s.jwt_secret.encode())
    _check(not s.jwt_secret or secret_len >= 32, "JWT_SECRET must be at least 32 bytes")
    _check(6 <= s.verification_code_length <= 10, "VERIFICATION_CODE_LENGTH must be 6..10")
    _check(s.verification_code_ttl_seconds > 0, "VERIFICATION_CODE_TTL_SECONDS must be > 0")
    _check(1 <= s.verification_max_attempts <= 10, "VERIFICATION_MAX_ATTEMPTS must be 1..10")
    _check(s.resend_cooldown_seconds >= 0, "RESEND_COOLDOWN_SECONDS must be >= 0")
    _check(
        1 <= s.password_min_length <= s.password_max_length,
        "PASSWORD_MIN_LENGTH must be >= 1 and <= PASSWORD_MAX_LENGTH",
    )
    _check(s.access_token_ttl_seconds > 0, "ACCESS_TOKEN_TTL_SECONDS must be > 0")
    _check(s.refresh_token_ttl_seconds > 0, "REFRESH_TOKEN_TTL_SECONDS must be > 0")
    _check(
        urlsplit(s.rate_limit_storage).scheme in ("memory", "redis", "rediss"),
        f"RATE_LIMIT_STORAGE={s.rate_limit_storage!r} must be memory:// or redis://...",
    )
    for code in s.allowed_countries:
        _check(
            code in phonenumbers.SUPPORTED_REGIONS or code == "001",  # 001: issue 11, item 8
            f"SMS_ALLOWED_COUNTRIES: {code!r} is not an ISO 3166 region (or 001)",
        )
    for item in _split(s.test_phone_codes):
        phone, _, code = item.partition("=")
        _check(
            phone.startswith("+") and code.isdigit() and len(code) == s.verification_code_length,
            f"TEST_PHONE_CODES: {item!r} must be +E164=<{s.verification_code_length} digits>",
        )
    _check(s.log_format in ("", "text", "json"), "LOG_FORMAT must be text or json")
    try:
        from core.limit_specs import parse_limits

        parse_limits(s.rate_limits)
    except ValueError as e:
        raise SettingsError(str(e)) from None
    _check_outbox(s)
    _check(0 <= s.metrics_port < 65536, "METRICS_PORT must be between 0 and 65535")
    if s.sms_backend == "twilio":
        _check(
            bool(s.twilio_account_sid and s.twilio_auth_token),
            "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
        )
        _check(
            bool(s.twilio_from_number or s.twilio_messaging_service_sid),
            "SMS_BACKEND=twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID",
        )
    if s.production:
        _check(bool(s.jwt_secret), "APP_ENV=production needs JWT_SECRET")
        _check(s.sms_backend != "console", "APP_ENV=production refuses SMS_BACKEND=console")
        _check(not s.test_phone_codes, "APP_ENV=production refuses TEST_PHONE_CODES")


def _check_outbox(s: Settings) -> None:
    _check(s.outbox_max_attempts >= 1, "OUTBOX_MAX_ATTEMPTS must be at least 1")
    _check(s.outbox_retry_base_seconds > 0, "OUTBOX_RETRY_BASE_SECONDS must be > 0")
    _check(
        s.outbox_retry_max_seconds >= s.outbox_retry_base_seconds,
        "OUTBOX_RETRY_MAX_SECONDS must be >= OUTBOX_RETRY_BASE_SECONDS",
    )
    _check(s.outbox_poll_seconds > 0, "OUTBOX_POLL_SECONDS must be > 0")
    _check(s.outbox_concurrency >= 1, "OUTBOX_CONCURRENCY must be at least 1")
    _check(s.twilio_timeout_seconds > 0, "TWILIO_TIMEOUT_SECONDS must be > 0")
    # A live worker renews its claims every third of the lease.
    _check(s.outbox_lease_seconds >= 3, "OUTBOX_LEASE_SECONDS must be at least 3")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SettingsError(message)


def _with_local_secret(s: Settings) -> Settings:
    """Outside production: a secret generated once, kept in a file shared by workers."""
    import dataclasses
    import logging

    path = Path(SECRET_FILE)
    if not path.exists():
        # Written aside, then linked into place: workers starting together all read the
        # one secret that won, never a half-written file.
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text().strip()
    logging.getLogger("phonegate").warning(
        "JWT_SECRET is not set: using the generated secret in %s (never do this in production)",
        path.resolve(),
    )
    return dataclasses.replace(s, jwt_secret=secret)

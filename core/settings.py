"""Settings: every option of the contract, read from the environment and validated once.

``Settings`` is a pydantic-settings model: a field ``port`` is the environment variable
``PORT`` (README "Configuration" lists them all) and a flag ``--port`` of main.py, except
the secrets (``SECRETS``): those come only from the environment or from a file named by
``<NAME>_FILE``, never from a flag, which ``ps`` would show to every user of the machine.

``load()`` reads and checks everything at once and raises ``SettingsError`` listing every
mistake, one line each (``SettingsError.problems``), so that a bad configuration is fixed
in one try. ``Settings(...)`` built directly (tests, benches) reads no environment.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENVIRONMENTS = ("development", "test", "production")
SMS_BACKENDS = ("console", "twilio")
DB_SCHEMES = ("sqlite", "postgres", "asyncpg", "psycopg")
SECRET_FILE = ".phonegate-secret"
# Never a command-line flag; also read from the file named by <NAME>_FILE. The two URLs
# carry the database's and Redis's passwords in production.
SECRETS = frozenset(
    {"jwt_secret", "twilio_auth_token", "metrics_token", "database_url", "rate_limit_storage"}
    | {"jwt_private_key"}  # issue 13, token signing
)

log = logging.getLogger("phonegate")


class SettingsError(ValueError):
    """Bad settings: one line per problem, all of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    app_env: Literal["development", "test", "production"] = Field(
        default="development", description="development, test or production"
    )
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="port to listen on")
    web_concurrency: int = Field(default=1, ge=1, description="worker processes")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="proxies trusted for X-Forwarded-For"
    )
    database_url: str = Field(
        default="sqlite://phonegate.sqlite3", description="Tortoise database URL"
    )
    jwt_secret: str = Field(default="", description="HS256 signing key, at least 32 bytes")
    access_token_ttl_seconds: int = Field(default=900, gt=0, description="access token lifetime")
    refresh_token_ttl_seconds: int = Field(
        default=2_592_000, gt=0, description="refresh token lifetime (the idle limit)"
    )
    sms_backend: Literal["console", "twilio"] = Field(
        default="console", description="console or twilio"
    )
    twilio_account_sid: str = Field(default="", description="Twilio account SID")
    twilio_auth_token: str = Field(default="", description="Twilio auth token")
    twilio_from_number: str = Field(default="", description="sender number")
    twilio_messaging_service_sid: str = Field(default="", description="sender messaging service")
    twilio_api_base_url: str = Field(
        default="https://api.twilio.com", description="where the Twilio SDK sends requests"
    )
    twilio_timeout_seconds: float = Field(
        default=10.0, gt=0, description="bound on one Twilio API call"
    )
    public_base_url: str = Field(
        default="", description="externally visible URL, for status callbacks"
    )
    verification_code_length: int = Field(default=6, ge=6, le=10, description="digits in a code")
    verification_code_ttl_seconds: int = Field(default=600, gt=0, description="a code's lifetime")
    verification_max_attempts: int = Field(
        default=5, ge=1, le=10, description="wrong guesses before a code is dead"
    )
    resend_cooldown_seconds: int = Field(
        default=30, ge=0, description="minimum gap between two codes to one phone"
    )
    resend_cooldown_max_seconds: int = Field(
        default=900, description="cap of the doubling resend cooldown"
    )
    password_min_length: int = Field(default=8, ge=1, description="in code points")
    password_max_length: int = Field(default=256, description="in code points")
    argon2_memory_kib: int = Field(default=19456, description="argon2id memory cost")
    argon2_time_cost: int = Field(default=2, description="argon2id iterations")
    argon2_parallelism: int = Field(default=1, description="argon2id lanes")
    hash_concurrency: int = Field(
        default=0,
        description="password hashes computed at once per worker "
        "(0 = the cores shared out among the workers)",
    )
    rate_limit_storage: str = Field(
        default="memory://", description="memory:// or redis://host:6379/0"
    )
    rate_limits: str = Field(
        default="", description="overrides of named limits, e.g. 'sms_per_client=20/hour'"
    )
    sms_allowed_countries: str = Field(
        default="", description="ISO 3166 codes that may receive SMS (empty: all)"
    )
    test_phone_codes: str = Field(
        default="", description="+15005550006=123456,...: fixed codes, no SMS"
    )
    cors_origins: str = Field(default="", description="origins allowed from a browser")
    sms_templates_file: str = Field(
        default="", description="JSON file overriding message templates"
    )
    webotp_domain: str = Field(
        default="", description="adds '@domain #code' to code messages for autofill"
    )
    outbox_max_attempts: int = Field(
        default=20, ge=1, description="provider tries before a message is abandoned"
    )
    outbox_retry_base_seconds: float = Field(
        default=1.0, gt=0, description="wait after a first failed try, doubling"
    )
    outbox_retry_max_seconds: float = Field(
        default=60.0, description="longest wait between two tries"
    )
    # A live worker renews its claims every third of the lease.
    outbox_lease_seconds: float = Field(
        default=15.0, ge=3, description="after this a dead worker's message is taken over"
    )
    outbox_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often a worker looks for due messages when idle"
    )
    outbox_concurrency: int = Field(
        default=16, ge=1, description="messages one worker process sends at once"
    )
    metrics_token: str = Field(
        default="", description="bearer token for /metrics (empty: open in development only)"
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="serve /metrics on this port only, off the public one (0: public)",
    )
    log_format: Literal["", "text", "json"] = Field(
        default="", description="text or json (json in production)"
    )
    unverified_ttl_seconds: int = Field(
        default=86_400, description="how long an unverified signup holds its phone"
    )
    # --- issue 15, the front door: trusted documents, GraphiQL's own assets ---------------
    trusted_documents: Literal["off", "allow", "only"] = Field(
        default="allow",
        description="off, allow (text or a documentId) or only (the manifest's documents; "
        "recommended in production)",
    )
    graphiql_assets: str = Field(
        default="",
        description="GraphiQL's fetched assets (empty: clients/graphiql/node_modules; "
        "absent: the CDN)",
    )
    # --- end of issue 15's block -----------------------------------------------------------

    # --- options added by other tasks in the old style, ported by the lead ----------------

    # --- issue 13, token signing (JWKS): asymmetric access tokens ----------------------------
    jwt_algorithm: Literal["ES256", "EdDSA", "RS256", "HS256"] = Field(
        default="ES256",
        description="ES256, EdDSA or RS256; HS256 signs with JWT_SECRET (no JWKS)",
    )
    jwt_private_key: str = Field(
        default="",
        repr=False,
        description="PEM of the access-token signing key, or JWT_PRIVATE_KEY_FILE "
        "(outside production: generated once beside the secret file)",
    )
    jwt_retired_public_keys_file: str = Field(
        default="",
        description="PEM file of retired public keys, published until their tokens expire",
    )
    jwt_issuer: str = Field(
        default="phonegate", min_length=1, description="iss claim of access tokens, checked"
    )
    jwt_audience: str = Field(
        default="phonegate", min_length=1, description="aud claim of access tokens, checked"
    )
    # --- end of issue 13, token signing -------------------------------------------------------

    # --- issue 13, sessions: refresh grace, maximum age, cookie mode --------------------------
    refresh_reuse_grace_seconds: int = Field(
        default=10,
        ge=0,
        le=60,
        description="a rotated refresh token presented again within this answers the same "
        "successor (0: never)",
    )
    session_max_age_seconds: int = Field(
        default=7_776_000, gt=0, description="a session ends this long after its login"
    )
    refresh_cookie: Literal["off", "on"] = Field(
        default="off",
        description="on: the refresh token travels in an HttpOnly cookie, not the JSON",
    )
    # --- end of issue 13, sessions ------------------------------------------------------------

    # --- issue 16, reach: voice and WhatsApp channels ------------------------------------------
    allowed_channels: str = Field(
        default="SMS,VOICE", description="the channels a code may go by: SMS, VOICE, WHATSAPP"
    )
    twilio_whatsapp_from: str = Field(
        default="", description="the WhatsApp sender (E.164, without 'whatsapp:')"
    )

    @field_validator("allowed_channels")
    @classmethod
    def _channels(cls, value: str) -> str:
        unknown = [c for c in _split(value.upper()) if c not in ("SMS", "VOICE", "WHATSAPP")]
        if unknown or not _split(value):
            raise ValueError(f"{', '.join(unknown) or 'none'}: channels are SMS, VOICE, WHATSAPP")
        return value

    @property
    def channels(self) -> frozenset[str]:
        """ALLOWED_CHANNELS as the outbox's channel names ("sms", "voice", "whatsapp")."""
        return frozenset(c.lower() for c in _split(self.allowed_channels))

    # --- end of issue 16, reach ------------------------------------------------------------------
    # --- issue 12: faults (bounded waits on dependencies and on clients) -------------------
    database_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="bound on connecting, waiting for a pooled connection and each statement",
    )
    rate_limit_timeout_seconds: float = Field(
        default=1.0, gt=0, description="bound on connecting to and each call to Redis"
    )
    request_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request's headers must arrive within"
    )
    request_body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request's body must arrive within"
    )
    max_connections_per_worker: int = Field(
        default=4096, gt=0, description="open connections one worker holds at most"
    )
    # --- end of issue 12 -------------------------------------------------------------------

    # --- single-value checks (all reported together by pydantic) ----------------------------

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in DB_SCHEMES:
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("memory", "redis", "rediss"):
            raise ValueError("must be memory:// or redis://...")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_length(cls, value: str) -> str:
        if value and len(value.encode()) < 32:
            raise ValueError("must be at least 32 bytes")
        return value

    @field_validator("sms_allowed_countries")
    @classmethod
    def _countries(cls, value: str) -> str:
        # 001: the international networks (+870, +881-883), issue 11 item 8
        known = phonenumbers.SUPPORTED_REGIONS | {"001"}
        unknown = [c for c in _split(value.upper()) if c not in known]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not ISO 3166 regions (or 001)")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _limits(cls, value: str) -> str:
        from core.limit_specs import parse_limits

        parse_limits(value)  # ValueError naming the limit
        return value

    # --- derived views -------------------------------------------------------------------

    @property
    def production(self) -> bool:
        return self.app_env == "production"

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        if environ is None:  # built directly: the arguments and the defaults only
            return (init_settings,)
        return (init_settings, MappingEnvSource(settings_cls, environ))


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("environ", default=None)


class MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (os.environ or a test's)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self.environ.items()}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def options() -> list[tuple[str, FieldInfo]]:
    """(field name, field) for every setting, in declaration order."""
    return list(Settings.model_fields.items())


def env_name(name: str) -> str:
    return name.upper()


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (os.environ by default), every mistake at once."""
    env, problems = _read_secret_files(os.environ if environ is None else environ)
    failed: set[str] = set()
    token = _ENVIRON.set(env)
    try:
        try:
            settings = Settings()
        except ValidationError as e:
            for error in e.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                failed.add(name)
                problems.append(_describe(name, error))
            # The others still checked together: the failed ones at their defaults.
            defaults = {name: Settings.model_fields[name].default for name in failed}
            settings = Settings(**defaults)
    finally:
        _ENVIRON.reset(token)
    failed_envs = {env_name(name) for name in failed}
    problems += [p for p in _combined_problems(settings) if not failed_envs & _mentions(p)]
    if problems:
        raise SettingsError(problems)
    return settings


def _read_secret_files(environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    env = dict(environ)
    problems: list[str] = []
    for name in sorted(SECRETS):
        var = env_name(name)
        path = env.pop(f"{var}_FILE", None)
        if path is None:
            continue
        if var in env:
            problems.append(f"{var} and {var}_FILE are both set: keep one")
            continue
        try:
            env[var] = Path(path).read_text().strip()
        except OSError as e:
            problems.append(f"{var}_FILE={path!r}: cannot be read ({e.strerror})")
    return env, problems


def _describe(name: str, error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if name in SECRETS or "input" not in error:
        return f"{env_name(name)}: {message}"
    return f"{env_name(name)}={error['input']!r}: {message}"


def _mentions(problem: str) -> set[str]:
    return {env_name(name) for name in Settings.model_fields if env_name(name) in problem}


def _combined_problems(s: Settings) -> list[str]:
    """Checks that involve several settings; every one that fails, in order."""
    checks = [
        (
            s.password_min_length <= s.password_max_length,
            "PASSWORD_MIN_LENGTH must be <= PASSWORD_MAX_LENGTH",
        ),
        (
            s.outbox_retry_max_seconds >= s.outbox_retry_base_seconds,
            "OUTBOX_RETRY_MAX_SECONDS must be >= OUTBOX_RETRY_BASE_SECONDS",
        ),
    ]
    for item in _split(s.test_phone_codes):
        phone, _, code = item.partition("=")
        checks.append(
            (
                phone.startswith("+")
                and code.isdigit()
                and len(code) == s.verification_code_length,
                f"TEST_PHONE_CODES: {item!r} must be +E164=<{s.verification_code_length} digits>"
                " (VERIFICATION_CODE_LENGTH)",
            )
        )
    if s.sms_backend == "twilio":
        checks += [
            (
                bool(s.twilio_account_sid and s.twilio_auth_token),
                "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
            ),
            (
                bool(s.twilio_from_number or s.twilio_messaging_service_sid),
                "SMS_BACKEND=twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID",
            ),
        ]
    if s.production:
        checks += [
            (bool(s.jwt_secret), "APP_ENV=production needs JWT_SECRET"),
            (s.sms_backend != "console", "APP_ENV=production refuses SMS_BACKEND=console"),
            (not s.test_phone_codes, "APP_ENV=production refuses TEST_PHONE_CODES"),
            (not memory_limits_per_worker(s), f"APP_ENV=production refuses {MEMORY_LIMITS}"),
        ]
    checks += _token_signing_checks(s)  # issue 13
    return [message for ok, message in checks if not ok]


def _token_signing_checks(s: Settings) -> list[tuple[bool, str]]:
    """Issue 13, token signing: the keys themselves are read and checked by server/jwks.py."""
    if s.jwt_algorithm == "HS256":
        return [
            (
                not s.jwt_private_key and not s.jwt_retired_public_keys_file,
                "JWT_ALGORITHM=HS256 signs with JWT_SECRET: unset JWT_PRIVATE_KEY(_FILE) "
                "and JWT_RETIRED_PUBLIC_KEYS_FILE",
            )
        ]
    return [
        (
            bool(s.jwt_private_key) or not s.production,
            "APP_ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE",
        )
    ]


MEMORY_LIMITS = (
    "WEB_CONCURRENCY above 1 with RATE_LIMIT_STORAGE=memory:// (each worker would count "
    "its own limits: set RATE_LIMIT_STORAGE=redis://...)"
)


def memory_limits_per_worker(s: Settings) -> bool:
    """Several workers each counting limits in their own memory: N times the limits."""
    return s.web_concurrency > 1 and urlsplit(s.rate_limit_storage).scheme == "memory"


def with_local_secret(s: Settings, *, announce: bool) -> Settings:
    """Outside production without JWT_SECRET: a secret generated once and kept in a file
    shared by the workers (the process that serves announces it, once)."""
    if s.jwt_secret or s.production:
        return s
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
    if announce:
        log.warning(
            "JWT_SECRET is not set: using the generated secret in %s (never in production)",
            path.resolve(),
        )
    return s.model_copy(update={"jwt_secret": path.read_text().strip()})

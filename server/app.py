"""The one place that builds the app and all its parts: settings in, a Starlette app out.

``create_app`` wires the flows' dependencies (``build_deps``), the outbox worker and its
sender, the background loops, the routes and the middleware; its lifespan opens and
closes them in order. ``app_factory`` is what uvicorn's workers call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.contrib.starlette import RegisterTortoise
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core import metrics
from core import settings as config
from core.settings import Settings
from models import tortoise_config
from notifier.callbacks import callback_url
from notifier.outbox import Outbox, OutboxWorker, RetryPolicy
from notifier.senders import ConsoleSender, Sender
from notifier.templates import Templates
from resolvers.codes import CodePolicy
from resolvers.deps import Client, Deps, derive_key
from resolvers.guards import client_key, notice_budget
from resolvers.limits import RateLimits
from resolvers.passwords import Passwords
from resolvers.tokens import TokenPolicy
from schema.context import Context
from schema.graphql import build_schema, decode_request_json, is_unavailable
from server.background import housekeeping, maintain
from server.callbacks import status_route
from server.graphiql import GraphiQLPage
from server.graphql_http import GRAPHQL_RESPONSE_JSON, GraphQLOverHTTP
from server.http import BodyLimit, ForwardedAddressesOnly, health_routes, metrics_route
from server.jwks import jwks_route, token_keys
from server.logs import configure_logging, quieted
from server.memory import one_malloc_arena
from server.observability import RequestLog, observe
from server.supervisor import stop_with_supervisor
from server.trusted_documents import TrustedDocuments

MAX_BODY_BYTES = 1024 * 1024
SPA_FOLDER = Path(__file__).resolve().parent.parent / "clients" / "spa"


class GraphQLApp(GraphQLOverHTTP):
    """Strawberry over Starlette with our typed context, speaking GraphQL over HTTP by the
    spec (server/graphql_http.py); no mutations over GET."""

    def __init__(
        self,
        deps: Deps,
        *,
        production: bool,
        documents: TrustedDocuments | None = None,
        graphiql: GraphiQLPage | None = None,
    ) -> None:
        super().__init__(
            observe(build_schema(production=production)),
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=not production,
            multipart_uploads_enabled=False,
        )
        self.deps = deps
        self.documents = documents or TrustedDocuments("allow")
        self.graphiql = graphiql
        # One bound of the database, and a second for the rest (the rate-limit storage's
        # own bound, the hash, the answer): 3 s at the default DATABASE_TIMEOUT_SECONDS.
        self.answer_within_seconds = deps.settings.database_timeout_seconds + 1.0

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)  # 400, never a 500, for JSON that is no request

    async def get_context(self, request: Any, response: Any) -> Context:
        request.state.sub_response = response  # its status, if set, is the answer's
        client = request.client.host if request.client else "unknown"
        user_agent = request.headers.get("user-agent") or None
        languages = request.headers.get("accept-language") or None
        return Context(
            deps=self.deps,
            request=request,
            client=Client(
                client_key(client),
                ip_address=client if request.client else None,
                user_agent=user_agent[:200] if user_agent else None,
                accept_language=languages[:200] if languages else None,
            ),
            response=response,
        )

    async def process_result(self, request: Any, result: Any) -> Any:
        """503 for an outage (UNAVAILABLE) answered as application/graphql-response+json;
        application/json keeps 200, as GraphQL over HTTP asks."""
        sub_response = request.state.sub_response
        if is_unavailable(result.errors) and sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            sub_response.status_code = 503
        return await super().process_result(request, result)


def make_sender(settings: Settings) -> Sender:
    if settings.sms_backend == "twilio":
        from notifier.twilio import TwilioSender  # only this sender imports twilio

        return TwilioSender(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_api_base_url,
            timeout_seconds=settings.twilio_timeout_seconds,
            whatsapp_from=settings.twilio_whatsapp_from,
        )
    return ConsoleSender()


def create_app(settings: Settings, *, sender: Sender | None = None) -> Starlette:
    deps = build_deps(settings)
    graphiql = None if settings.production else GraphiQLPage(settings.graphiql_assets)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = tortoise_config(settings.database_url, settings.database_timeout_seconds)
        async with RegisterTortoise(app, config=database):
            # Made here: the Twilio client's HTTP session needs the running loop.
            active_sender = sender or make_sender(settings)
            worker = OutboxWorker(
                active_sender,
                retry=RetryPolicy(
                    max_attempts=settings.outbox_max_attempts,
                    base_seconds=settings.outbox_retry_base_seconds,
                    max_seconds=settings.outbox_retry_max_seconds,
                    lease_seconds=settings.outbox_lease_seconds,
                ),
                status_callback=callback_url(settings),
                concurrency=settings.outbox_concurrency,
                poll_seconds=settings.outbox_poll_seconds,
                budget=functools.partial(notice_budget, deps.limits),
            )
            deps.outbox.worker = worker  # flows hand it their messages, or wake it
            app.state.worker = worker
            worker.start()
            maintenance = asyncio.create_task(maintain(deps))
            tidying = asyncio.create_task(housekeeping())
            gc.freeze()  # start-up objects leave the collector's scans: shorter pauses
            try:
                yield
            finally:
                maintenance.cancel()
                tidying.cancel()
                await worker.stop(drain_seconds=settings.twilio_timeout_seconds)
                await active_sender.close()
                deps.passwords.close()
                await deps.limits.close()

    app = Starlette(
        routes=[
            *health_routes(deps),
            metrics_route(settings),
            jwks_route(dict(deps.tokens.verify_keys)),
            status_route(settings),  # parses its form itself: no python-multipart needed
            Route(
                "/graphql",
                GraphQLApp(
                    deps,
                    production=settings.production,
                    documents=TrustedDocuments(settings.trusted_documents),
                    graphiql=graphiql,
                ),
            ),  # every method: the view answers 405 as GraphQL JSON
            *(graphiql.routes() if graphiql else []),
            *_static_routes(settings),
        ],
        middleware=_middleware(settings),
        lifespan=lifespan,
    )
    app.state.deps = deps
    return app


def _middleware(settings: Settings) -> list[Middleware]:
    stack = [
        Middleware(RequestLog),  # outermost: times and logs every request, 413s included
        Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
        Middleware(ForwardedAddressesOnly),  # before the proxy headers are read
        Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies or "127.0.0.1"),
    ]
    if settings.cors_origin_list:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                # cookie mode: a listed origin of the same site (app. and api.example.com)
                # sends the refresh cookie; the list is explicit, never "*"
                allow_credentials=settings.refresh_cookie == "on",
                max_age=600,
            )
        )
    return stack


def _static_routes(settings: Settings) -> list[Mount]:
    """The reference SPA at / in development (clients/spa), if present."""
    folder = SPA_FOLDER
    if settings.production or not folder.is_dir():
        return []
    return [Mount("/", StaticFiles(directory=folder, html=True), name="spa")]


def hash_concurrency(settings: Settings) -> int:
    """Hashes at once per worker: by default the cores shared out among the workers, so
    that N workers run no more hashes than there are cores (with 2 workers on 2 cores,
    2 threads each cost login 20% more CPU and 16% of its rate: bench/run.py)."""
    if settings.hash_concurrency:
        return settings.hash_concurrency
    return max(1, (os.cpu_count() or 1) // settings.web_concurrency)


def build_deps(settings: Settings) -> Deps:
    signing_key, verify_keys = token_keys(settings)
    return Deps(
        settings=settings,
        passwords=Passwords(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
            concurrency=hash_concurrency(settings),
            on_wait=metrics.HASH_WAIT.observe,
        ),
        limits=RateLimits(
            settings.rate_limit_storage, settings.rate_limits, settings.rate_limit_timeout_seconds
        ),
        codes=CodePolicy(
            key=derive_key(settings.jwt_secret, "code-hash"),
            length=settings.verification_code_length,
            ttl_seconds=settings.verification_code_ttl_seconds,
            max_attempts=settings.verification_max_attempts,
            cooldown_seconds=settings.resend_cooldown_seconds,
            cooldown_max_seconds=max(
                settings.resend_cooldown_max_seconds, settings.resend_cooldown_seconds
            ),
            fixed_codes=settings.test_codes,
        ),
        tokens=TokenPolicy(
            signing_key=signing_key,
            hash_key=derive_key(settings.jwt_secret, "refresh-hash"),
            access_ttl_seconds=settings.access_token_ttl_seconds,
            refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
            verify_keys=verify_keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
            session_max_age_seconds=settings.session_max_age_seconds,
        ),
        outbox=build_outbox(settings),
    )


def build_outbox(settings: Settings) -> Outbox:
    """The outbox of the server and of the operator's commands (TemplateError on bad
    templates: main.py checks them first)."""
    return Outbox(
        templates=Templates(settings.sms_templates_file, settings.webotp_domain),
        suppressed_phones=frozenset(settings.test_codes),
    )


async def migrate(settings: Settings) -> list[str]:
    """Apply the migrations not yet applied; their names, in order."""
    from tortoise.migrations.api import migrate as run_migrations

    applied: list[str] = []

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    try:
        # no bound on statements: a migration may rewrite a large table
        database = tortoise_config(settings.database_url, None)
        await run_migrations(config=database, progress=progress)
    finally:
        await Tortoise.close_connections()
        # Tortoise caches each table's compiled INSERT by (connection, table): one compiled
        # while a migration used a table's older shape (users before 0006) would leave the
        # newer columns out of every later INSERT in this process (an account's locale was
        # silently stored as null).
        EXECUTOR_CACHE.clear()
    return applied


def app_factory() -> Starlette:
    """For uvicorn workers: settings from the environment (the CLI exported its flags)."""
    stop_with_supervisor()
    one_malloc_arena()
    settings = config.with_local_secret(config.load(), announce=False)  # main.py announced
    configure_logging(settings)
    with quieted("phonegate.templates"):  # main.py checked the templates and warned once
        return create_app(settings)

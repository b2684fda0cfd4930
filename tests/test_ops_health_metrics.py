"""/healthz, /readyz (503 naming what failed) and /metrics (Prometheus text, guarded)."""

from __future__ import annotations

import asyncio
import socket

from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.clock import now
from tests import documents as d
from tests.support import STRONG_PASSWORD, eventually, new_phone

TOKEN = "metrics-token-for-tests"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, metric: str, **labels: str) -> float:
    return samples(text).get((metric, tuple(sorted(labels.items()))), 0.0)


async def scrape(api) -> str:
    response = await api.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_healthz_answers_while_the_process_lives(api):
    response = await api.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_checks_the_database_and_redis_when_configured(
    start_app, make_settings, redis_url
):
    async with start_app(make_settings(RATE_LIMIT_STORAGE=redis_url)) as api:
        response = await api.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "redis": "ok"}


async def test_readyz_is_503_and_names_redis_when_redis_is_unreachable(start_app, make_settings):
    settings = make_settings(RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{closed_port()}/0")
    async with start_app(settings) as api:
        response = await api.http.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["database"] == "ok" and body["redis"].startswith("unreachable")


async def test_readyz_is_503_and_names_the_database_when_it_is_unreachable(
    start_app, make_settings
):
    settings = make_settings(DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/none")
    async with start_app(settings) as api:
        response = await api.http.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "not ready" and body["database"].startswith("unreachable")


async def test_metrics_need_the_token_in_production(start_app, make_settings):
    production = make_settings(
        APP_ENV="production",
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM_NUMBER="+15005550006",
    )
    async with start_app(production) as api:
        untokened = await api.http.get("/metrics")
    async with start_app(make_settings(METRICS_TOKEN=TOKEN)) as api:
        wrong = await api.http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await api.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert untokened.status_code == 403 and wrong.status_code == 403
    assert right.status_code == 200


async def test_metrics_are_off_the_public_port_when_metrics_port_is_set(start_app, make_settings):
    async with start_app(make_settings(METRICS_PORT="9464")) as api:
        response = await api.http.get("/metrics")
    assert response.status_code == 404


async def test_metrics_count_operations_sms_refusals_hashing_and_latency(start_app, make_settings):
    # given
    settings = make_settings(METRICS_TOKEN=TOKEN, RATE_LIMITS="login_per_client=1/minute")
    async with start_app(settings) as api:
        before = await scrape(api)
        phone = new_phone()
        await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        await api.sms.wait(phone, "verify_signup")

        async def send_counted() -> bool:  # the worker records the send right after it
            sent = {"action": "verify_signup", "outcome": "sent"}
            return value(await scrape(api), "phonegate_sms_total", **sent) > value(
                before, "phonegate_sms_total", **sent
            )

        await eventually(send_counted)
        wrong = {"input": {"identifier": new_phone(), "password": "wrong password 1"}}
        await api.run(d.LOGIN, wrong)
        limited = await api.run(d.LOGIN, wrong)
        # when
        after = await scrape(api)

    # then
    def grew(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert limited["__typename"] == "RateLimited"
    ops = "phonegate_operations_total"
    assert grew(ops, name="signup", result="VerificationSent") == 1
    assert grew(ops, name="login", result="InvalidCredentials") == 1
    assert grew(ops, name="login", result="RateLimited") == 1
    assert grew("phonegate_sms_total", action="verify_signup", outcome="sent") == 1
    assert grew("phonegate_rate_limited_total", limit="login_per_client") == 1
    assert grew("phonegate_password_hash_queue_seconds_count") >= 2  # signup hash, dummy verify
    latency = "phonegate_request_seconds_count"
    assert grew(latency, path="/graphql", operation="signup") == 1
    assert grew(latency, path="/graphql", operation="login") == 2
    assert ("phonegate_request_seconds_bucket", ()) not in samples(after)  # always labelled


async def test_outbox_gauges_show_depth_and_the_oldest_waiting_message(start_app, make_settings):
    # given: a provider that never answers, so the message stays waiting
    class Stalled:
        async def send(self, *args, **kwargs):
            await asyncio.sleep(3600)

        async def close(self):
            return None

    async with start_app(make_settings(METRICS_TOKEN=TOKEN), sender=Stalled()) as api:
        phone = new_phone()
        await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        await asyncio.sleep(0.3)
        # when
        await metrics.sample_outbox(now())
        text = await scrape(api)
    # then
    assert value(text, "phonegate_outbox_depth") >= 1
    assert value(text, "phonegate_outbox_oldest_age_seconds") > 0

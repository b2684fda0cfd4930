"""GraphQL over HTTP by the specification: media types negotiated by Accept, the spec's
status codes, no `data` entry on request errors, every error answer a GraphQL JSON response,
and graphql-http's own audit suite (61 audits) against a started `main.py`.

The audit needs Node.js and npm (tests/audit/, locked with package-lock.json); outside CI
the test skips without them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import servers
from server.graphql_http import negotiate
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.test_security_support import post_json, post_raw

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / "tests" / "audit"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
GRJ = "application/graphql-response+json"
JSON = "application/json"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is required in CI (.ci/typescript installs Node.js and npm)")
        pytest.skip(f"{tool} not installed")
    return path


@pytest.fixture(scope="module")
def started_server() -> Iterator[servers.Server]:
    """`uv run main.py` as a developer starts it: development, SQLite, console SMS."""
    with tempfile.TemporaryDirectory(prefix="phonegate-audit-") as folder:
        env = servers.base_env(
            f"sqlite://{Path(folder) / 'audit.sqlite3'}",
            servers.free_port(),
            APP_ENV="development",
            LOG_FORMAT="text",
        )
        server = servers.start(env, Path(folder) / "server.log", migrate_first=False)
        try:
            yield server
        finally:
            server.stop()


def test_the_graphql_http_audit_passes_all_61_audits_against_a_started_server(started_server):
    # given graphql-http installed as locked
    npm, node = _need("npm"), _need("node")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=AUDIT,
        check=True,
        timeout=300,
    )
    # when
    done = subprocess.run(
        [node, "audit.mjs", f"{started_server.url}/graphql"],
        cwd=AUDIT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "61 of 61 ok, 0 warnings, 0 errors", done.stdout


# --- negotiation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GRJ, GRJ),
        (f"{GRJ}, {JSON}", GRJ),
        (f"{JSON}, {GRJ}", GRJ),
        (f"{GRJ};q=0.5, {JSON}", JSON),
        (f"{GRJ};charset=utf-8, {JSON};q=0.9", GRJ),
        (f"{GRJ};charset=latin1, {JSON};q=0.1", JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
        ("text/html", None),
        (f"{JSON};q=0", None),
        (f"{JSON};charset=latin1", None),
    ],
)
def test_accept_picks_the_answer_media_type_as_the_spec_says(accept, media_type):
    assert negotiate(accept) == media_type


async def test_graphql_response_json_is_answered_in_kind(api):
    response = await post_json(api, {"query": "{ __typename }"}, accept=GRJ)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRJ}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_accept_nothing_we_speak_is_406_in_json(api):
    response = await post_json(api, {"query": "{ __typename }"}, accept="text/html")
    assert response.status_code == 406
    assert response.headers["content-type"].startswith(JSON)
    assert "application/graphql-response+json" in response.json()["errors"][0]["message"]


# --- request errors: no data entry; 400 with graphql-response+json, 200 with json ------------


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"query": "{ me { id"}, "Syntax Error"),
        ({"query": "{ nope }"}, "Cannot query field 'nope'"),
        ({"query": d.REQUEST_RESET, "variables": {"phone": 5}}, "Variable '$phone'"),
        ({"query": "query A { __typename }", "operationName": "B"}, 'Unknown operation named "B"'),
        (
            {"query": "query A { __typename } query B { __typename }"},
            "Must provide operation name if query contains multiple operations.",
        ),
    ],
    ids=["parse", "validation", "variable-coercion", "stale-operation-name", "no-operation-name"],
)
@pytest.mark.parametrize(("accept", "status"), [(GRJ, 400), (JSON, 200)])
async def test_a_request_error_has_no_data_entry_and_the_spec_status(
    api, payload, says, accept, status
):
    # when
    response = await post_json(api, payload, accept=accept)
    # then
    assert response.status_code == status
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"
    body = response.json()
    assert "data" not in body
    assert says in body["errors"][0]["message"]


async def test_a_field_error_keeps_data_and_status_200_with_graphql_response_json(api, monkeypatch):
    from resolvers import reset

    async def fails(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(reset, "request", fails)
    response = await post_json(
        api, {"query": d.REQUEST_RESET, "variables": {"phone": new_phone()}}, accept=GRJ
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"] == "Unexpected error."


# --- every error answer is GraphQL JSON --------------------------------------------------


async def test_malformed_json_is_400_as_a_graphql_json_response(api):
    response = await post_raw(api, '{"query": ', headers={"accept": GRJ})
    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GRJ}; charset=utf-8"
    assert response.json() == {"errors": [{"message": "Unable to parse request body as JSON"}]}


@pytest.mark.parametrize(
    ("payload", "word"),
    [({"query": 1}, "query"), ({"query": "{ me { id } }", "variables": []}, "variables")],
)
async def test_parameters_of_the_wrong_type_are_400_in_json(api, payload, word):
    response = await post_json(api, payload)
    assert response.status_code == 400
    assert f"`{word}`" in response.json()["errors"][0]["message"]


async def test_another_content_type_is_400_in_json(api):
    response = await post_raw(api, "{ __typename }", content_type="application/graphql")
    assert response.status_code == 400
    assert "application/json" in response.json()["errors"][0]["message"]


async def test_a_body_over_the_cap_is_413_as_a_graphql_json_response(api):
    response = await post_raw(api, '{"query": "{ __typename }"' + " " * (1024 * 1024) + "}")
    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": "Request body too large"}]}


async def test_other_methods_are_405_in_json(api):
    response = await api.http.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.json()["errors"][0]["message"]


# --- GET -----------------------------------------------------------------------------------


async def test_a_query_over_get_is_answered(api):
    response = await api.http.get(
        "/graphql",
        params={"query": d.USERNAME_AVAILABLE, "variables": '{"u": "somebody_new"}'},
        headers={"accept": GRJ},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"usernameAvailable": True}}


async def test_a_mutation_over_get_is_405_with_allow_post_and_sends_nothing(api):
    # given
    phone = new_phone()
    variables = json.dumps({"input": {"phone": phone, "password": STRONG_PASSWORD}})
    # when
    response = await api.http.get(
        "/graphql", params={"query": d.SIGNUP, "variables": variables}, headers={"accept": JSON}
    )
    # then
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "mutations are not allowed when using GET" in response.json()["errors"][0]["message"]
    await asyncio.sleep(0.3)  # the outbox would have sent the code by now
    assert api.sms.to(phone) == []

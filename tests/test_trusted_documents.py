"""Trusted documents: the operations of clients/operations/ known by their sha256 id.

A client sends `{"documentId": "sha256:<hex>", "variables": ...}`; TRUSTED_DOCUMENTS=only
refuses every other document with a GraphQL error before parsing it (production's
recommended setting), `allow` (the default) takes text or ids, `off` takes text only.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from clients import trusted_documents as generator
from core.settings import SettingsError
from core.settings import load as load_settings
from tests.support import STRONG_PASSWORD, RecordingSender, new_phone
from tests.test_security_support import post_json

MANIFEST = json.loads(generator.MANIFEST.read_text())
ME_ID = generator.ids()["Me"]
AVAILABLE_ID = generator.ids()["UsernameAvailable"]
SIGNUP_ID = generator.ids()["Signup"]
PRODUCTION = {
    "APP_ENV": "production",
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-token",
    "TWILIO_FROM_NUMBER": "+15005550006",
}
NOT_IN_MANIFEST = "query Mine { me { id phone } }"


@pytest.fixture
async def only_api(make_settings, start_app):
    async with start_app(make_settings(TRUSTED_DOCUMENTS="only")) as api:
        yield api


def test_the_manifest_and_the_clients_ids_are_current():
    stale = [str(path) for path, text in generator.outputs().items() if path.read_text() != text]
    assert stale == [], "run `uv run python clients/trusted_documents.py`"


def test_the_readme_shows_only_ids_of_the_manifest():
    # given the README's example request, which a reader copies to try an id
    readme = (generator.OPERATIONS.parent.parent / "README.md").read_text()
    # when
    shown = set(re.findall(r"sha256:[0-9a-f]{64}", readme))
    # then
    assert shown and shown <= set(MANIFEST), "README: an id not in clients/trusted_documents.json"


def test_the_manifest_holds_every_operation_under_the_sha256_of_its_text():
    texts = {p.read_text() for p in generator.OPERATIONS.glob("*.graphql")}
    assert set(MANIFEST.values()) == texts
    for key, text in MANIFEST.items():
        assert key == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def test_a_document_id_runs_its_document(api):
    response = await post_json(
        api, {"documentId": AVAILABLE_ID, "variables": {"username": "fresh_name"}}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"usernameAvailable": True}}


async def test_a_document_id_over_get_runs_its_query(api):
    response = await api.http.get(
        "/graphql",
        params={"documentId": AVAILABLE_ID, "variables": '{"username": "fresh_name"}'},
        headers={"accept": "*/*"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"usernameAvailable": True}}


async def test_an_unknown_document_id_is_a_clear_graphql_error(api):
    response = await post_json(
        api, {"documentId": "sha256:" + "0" * 64}, accept="application/graphql-response+json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "DOCUMENT_NOT_FOUND"
    assert "Unknown documentId" in error["message"]


async def test_only_refuses_a_document_outside_the_manifest_before_running_it(only_api):
    # when
    response = await post_json(only_api, {"query": NOT_IN_MANIFEST})
    # then
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
    assert "Only trusted documents" in error["message"]


async def test_only_refuses_a_mutation_as_text_and_sends_nothing(only_api):
    # given a signup typed by hand (the manifest's text with one space less)
    phone = new_phone()
    text = MANIFEST[SIGNUP_ID].replace("  ", " ", 1)
    variables = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
    # when
    response = await post_json(only_api, {"query": text, "variables": variables})
    # then
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
    assert only_api.sms.to(phone) == []


async def test_only_runs_the_manifest_documents_by_id_and_by_exact_text(only_api):
    by_id = await post_json(only_api, {"documentId": ME_ID})
    by_text = await post_json(only_api, {"query": MANIFEST[ME_ID]})
    assert by_id.json() == {"data": {"me": None}}
    assert by_text.json() == {"data": {"me": None}}


async def test_a_production_start_with_only_refuses_a_document_not_in_the_manifest(
    make_settings, start_app
):
    settings = make_settings(**PRODUCTION, TRUSTED_DOCUMENTS="only")
    async with start_app(settings, sender=RecordingSender()) as api:
        refused = await post_json(api, {"query": "{ __typename }"})
        served = await post_json(api, {"documentId": ME_ID})
    assert refused.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
    assert served.json() == {"data": {"me": None}}


async def test_off_refuses_document_ids(make_settings, start_app):
    async with start_app(make_settings(TRUSTED_DOCUMENTS="off")) as api:
        response = await post_json(api, {"documentId": ME_ID})
        text = await post_json(api, {"query": NOT_IN_MANIFEST})
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_ID_NOT_SUPPORTED"
    assert text.json() == {"data": {"me": None}}


async def test_an_id_and_another_text_together_are_refused(api):
    response = await post_json(api, {"documentId": ME_ID, "query": NOT_IN_MANIFEST})
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_MISMATCH"


def test_an_unknown_mode_is_refused_at_start():
    with pytest.raises(SettingsError, match="TRUSTED_DOCUMENTS"):
        load_settings(environ={"TRUSTED_DOCUMENTS": "sometimes", "JWT_SECRET": "x" * 32})


async def test_the_generated_python_client_sends_ids_that_only_accepts(only_api):
    from phonegate_client import PhonegateClient

    # given a server that runs nothing but the manifest's documents
    client = PhonegateClient(url="http://testserver/graphql", http_client=only_api.http)
    sent: list[dict[str, object]] = []

    async def record(request):  # type: ignore[no-untyped-def]
        sent.append(json.loads(request.content))

    only_api.http.event_hooks["request"].append(record)
    # when
    answer = await client.username_available("python_client_ok")
    # then
    assert answer.username_available is True
    assert sent[0]["documentId"] == AVAILABLE_ID and "query" not in sent[0]


def test_only_without_a_manifest_refuses_to_start(tmp_path):
    from server.trusted_documents import TrustedDocuments, load

    with pytest.raises(ValueError, match="TRUSTED_DOCUMENTS=only needs clients"):
        TrustedDocuments("only", load(tmp_path / "missing.json"))

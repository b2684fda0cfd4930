"""The reference SPA (clients/spa) as the app serves it in development, beside the API, and
the copy of the operation documents it carries."""

from __future__ import annotations

from clients.spa_operations import TARGET, render


async def test_the_spa_is_served_at_the_root_beside_graphql_and_healthz(api):
    # when
    page = await api.http.get("/")
    module = await api.http.get("/session.js")
    health = await api.http.get("/healthz")
    graphiql = await api.http.get("/graphql", headers={"Accept": "text/html"})
    query = await api.http.post("/graphql", json={"query": "{ __typename }"})
    missing = await api.http.get("/no-such-page")
    # then
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="app.js">' in page.text
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    assert query.json() == {"data": {"__typename": "Query"}}
    assert missing.status_code == 404


def test_the_spa_sends_the_documents_of_clients_operations_verbatim():
    assert TARGET.read_text() == render(), (
        "clients/spa/operations.js drifted: run `uv run python clients/spa_operations.py`"
    )

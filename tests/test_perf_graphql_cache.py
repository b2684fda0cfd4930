"""Parsing and validation are cached across requests, and the limits still hold."""

from __future__ import annotations

import secrets

from strawberry.extensions import ParserCache, ValidationCache

from schema.graphql import MAX_ALIASES, MAX_TOKENS


def caches(api):
    """The parser and validation caches the running app's schema uses."""
    view = next(r.endpoint for r in api.app.routes if getattr(r, "path", "") == "/graphql")
    extensions = view.schema.get_extensions()
    parser = next(e for e in extensions if isinstance(e, ParserCache))
    validation = next(e for e in extensions if isinstance(e, ValidationCache))
    return parser.cached_parse_document, validation.cached_validate_document


async def post(api, query: str) -> dict:
    response = await api.http.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_repeated_document_is_parsed_and_validated_once(api):
    # given: a document this process has never seen
    query = f"query Probe{secrets.token_hex(4)} {{ __typename }}"
    parse, validate = caches(api)
    await post(api, query)
    parsed, validated = parse.cache_info(), validate.cache_info()
    # when
    for _ in range(5):
        assert (await post(api, query))["data"] == {"__typename": "Query"}
    # then: every repeat hit both caches and added no entry (the rules are the same objects)
    assert parse.cache_info().hits - parsed.hits == 5
    assert validate.cache_info().hits - validated.hits == 5
    assert validate.cache_info().currsize == validated.currsize


async def test_limits_hold_when_the_refused_document_comes_again(api):
    # given
    aliases = " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1))
    too_many_aliases = f"query Aliases{secrets.token_hex(4)} {{ {aliases} }}"
    too_many_tokens = "{ " + " ".join(["__typename"] * (MAX_TOKENS + 1)) + " }"
    _, validate = caches(api)
    # when
    first = await post(api, too_many_aliases)
    hits = validate.cache_info().hits
    second = await post(api, too_many_aliases)
    tokens = [await post(api, too_many_tokens) for _ in range(2)]
    # then: refused each time, the second time straight from the validation cache
    assert first.get("data") is None and first["errors"]
    assert second == first
    assert validate.cache_info().hits == hits + 1
    assert all(t.get("data") is None and t["errors"] for t in tokens)

"""The Strawberry schema: types, limits built once, caches, error masking."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime

from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry import Schema
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import ExecutionContext

from core import metrics
from resolvers.errors import DependencyUnavailable, outage_of
from schema.operations import Mutation, Query
from schema.query_limits import document_limits

log = logging.getLogger("phonegate.graphql")

MAX_DEPTH = 8  # the schema nests 3 levels at most (changePassword.session.user.id)
MAX_ALIASES = 15
MAX_TOKENS = 2000
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Built once: rule classes made per request would defeat the validation cache.
LIMIT_RULES: list[type[ASTValidationRule]] = [
    document_limits(max_aliases=MAX_ALIASES, max_depth=MAX_DEPTH)
]
PRODUCTION_RULES: list[type[ASTValidationRule]] = [*LIMIT_RULES, NoSchemaIntrospectionCustomRule]


def _should_mask(error: GraphQLError) -> bool:
    """Mask faults: anything raised while resolving (errors with a path) and any exception
    that is not GraphQL's own. Syntax, validation and variable errors stay visible: they
    say what the client got wrong and come from the client's own document."""
    original = error.original_error
    return error.path is not None or not (original is None or isinstance(original, GraphQLError))


UNAVAILABLE = "UNAVAILABLE"
TRACEBACK_EVERY_SECONDS = 60.0
_traced: dict[tuple[str, str], float] = {}  # (dependency, cause) -> when last traced


class MaskFaults(MaskErrors):
    """Faults masked as "Unexpected error.", except an outage of a dependency: an error
    with ``extensions.code`` UNAVAILABLE and a message a person can act on."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        outage = outage_of(error.original_error)
        if outage is None:
            return super().anonymise_error(error)
        return GraphQLError(
            message=outage.advice,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": UNAVAILABLE},
        )


def is_unavailable(errors: list[GraphQLError] | None) -> bool:
    """Whether a result's errors include an outage (after masking)."""
    return any((e.extensions or {}).get("code") == UNAVAILABLE for e in errors or [])


def _log_outage(outage: DependencyUnavailable, at: str) -> None:
    """One line per failed request; the traceback at most once a minute per cause."""
    metrics.UNAVAILABLE.labels(dependency=outage.name).inc()
    key = (outage.name, outage.cause)
    now = time.monotonic()
    trace = now - _traced.get(key, -TRACEBACK_EVERY_SECONDS) >= TRACEBACK_EVERY_SECONDS
    if trace:
        _traced[key] = now
    trace_of = outage if trace else None
    log.warning("%s unavailable at %s: %s", outage.name, at, outage.cause, exc_info=trace_of)


class HideSuggestions(SchemaExtension):
    """No "Did you mean ...?" in any error: field, argument, type and input field names
    would otherwise leak the schema that production's introspection rule hides."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in getattr(self.execution_context.result, "errors", None) or []:
            error.message = SUGGESTION.sub("", error.message)


class HideVariableValues(SchemaExtension):
    """A variable that cannot be coerced is named with its path and the reason, never with
    the value sent: graphql-core's message repeats it ("String cannot represent a non string
    value: [...]", "... found: {whole input}"), which for a password echoes the secret
    into the response (and into whatever logs responses)."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in getattr(self.execution_context.result, "errors", None) or []:
            error.message = without_variable_value(error)


def without_variable_value(error: GraphQLError) -> str:
    inner = error.original_error
    message = error.message
    if not (
        message.startswith("Variable '$")
        and isinstance(inner, GraphQLError)
        and message.endswith(inner.message)
    ):
        return message
    where = message[: len(message) - len(inner.message)]  # "Variable '$input' ... at .x: "
    reason = inner.message.split(", found:", 1)[0]
    if "cannot represent" in reason:
        reason = reason.split(": ", 1)[0]
    return f"{where}{reason.rstrip('.')}."


# Our only scalar, with a description a client author can act on (Strawberry's says only
# "Date with time (isoformat)").
DATETIME = dataclasses.replace(
    DateTimeDefinition,
    description="An instant in UTC, ISO 8601 with offset, e.g. 2026-11-28T00:10:00+00:00; "
    "compare it with the client's clock to know when a code or token expires.",
)


class QuietSchema(Schema):
    """Logs errors without the request's text. Strawberry's default writes each error with
    the document excerpt around it, so a password typed inline in a document (instead of
    in variables) would reach the log; and it logs every client mistake at ERROR, a level
    an attacker could then flood. Faults: ERROR with the traceback, the path only. An
    outage of a dependency: one WARNING line naming it (the traceback once a minute). The
    client's own mistakes (syntax, validation): DEBUG."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            outage = outage_of(error.original_error)
            if outage is not None:
                path = ".".join(str(p) for p in error.path or []) or "(document)"
                _log_outage(outage, path)
            elif error.original_error is None or isinstance(error.original_error, GraphQLError):
                log.debug("GraphQL request refused: %s", error.message.split("\n", 1)[0])
            else:
                log.error(
                    "GraphQL fault at %s: %s",
                    ".".join(str(p) for p in error.path or []) or "(document)",
                    type(error.original_error).__name__,
                    exc_info=error.original_error,
                )


def build_schema(*, production: bool) -> Schema:
    rules = PRODUCTION_RULES if production else LIMIT_RULES
    extensions: list[object] = [
        # Factories: a fresh extension per request. The rules list is the same objects every
        # time, so the validation cache (keyed on the rules) keeps hitting.
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: MaskFaults(should_mask_error=_should_mask),
        HideVariableValues,
    ]
    if production:
        extensions.append(HideSuggestions)
    return QuietSchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(
            disable_field_suggestions=production, scalar_map={datetime: DATETIME}
        ),
        extensions=extensions,  # type: ignore[arg-type]
    )


def decode_request_json(data: str | bytes) -> object:
    """The JSON of a request: an object (a list is refused later as batching). Anything
    else, invalid UTF-8, over-long numbers or nesting too deep for the decoder raise
    JSONDecodeError, which the GraphQL view answers with 400 instead of a server error."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, ...
        raise json.JSONDecodeError(f"invalid JSON ({type(e).__name__})", "", 0) from None
    if not isinstance(value, dict | list):
        raise json.JSONDecodeError("a GraphQL request is a JSON object", "", 0)
    if _has_lone_surrogate(value):  # "\ud800" is JSON, but no text: it cannot be stored
        raise json.JSONDecodeError("a string holds a lone UTF-16 surrogate", "", 0)
    return value


def _has_lone_surrogate(value: object) -> bool:
    pending = [value]  # a stack, not recursion: the decoder allows deeper nesting
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def export() -> str:
    """The SDL of the schema, as in schema.graphql."""
    return build_schema(production=False).as_str() + "\n"

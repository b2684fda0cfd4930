"""The Strawberry schema: types, limits built once, caches, error masking."""

from __future__ import annotations

from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from graphql.error import GraphQLSyntaxError
from strawberry import Schema
from strawberry.extensions import AddValidationRules, MaskErrors, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.max_tokens import MaxTokensLimiter
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig

from schema.operations import Mutation, Query

MAX_DEPTH = 8
MAX_ALIASES = 15
MAX_TOKENS = 2000

# Built once: rule classes made per request would defeat the validation cache.
LIMIT_RULES: list[type[ASTValidationRule]] = [
    depth_rule(MAX_DEPTH, None, None),
    alias_rule(MAX_ALIASES),
]


def _should_mask(error: GraphQLError) -> bool:
    """Mask faults; keep validation and syntax errors, which say what the client got wrong."""
    original = error.original_error
    return not (original is None or isinstance(original, GraphQLSyntaxError))


def build_schema(*, production: bool) -> Schema:
    rules = list(LIMIT_RULES)
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(disable_field_suggestions=production),
        # Factories: a fresh extension per request. The rules list is the same objects every
        # time, so the validation cache (keyed on the rules) keeps hitting.
        extensions=[
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(MAX_TOKENS),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: MaskErrors(should_mask_error=_should_mask),
        ],
    )


def export() -> str:
    """The SDL of the schema, as in schema.graphql."""
    return build_schema(production=False).as_str() + "\n"

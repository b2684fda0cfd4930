"""schema.graphql against the contract's schema (tests/contract.graphql, the contract as given,
with its additions applied: tests/contract_second_factors.graphql, contract_reach.graphql,
contract_sessions.graphql): every type, field, argument, input field, interface and union
member, with its type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    TypeDefinitionNode,
    build_ast_schema,
    build_schema,
    parse,
)

ROOT = Path(__file__).resolve().parent.parent
# Applied in order. Reach restates `type Mutation` (its channel arguments) with the base
# contract's refreshSession, so it goes before sessions, whose `extend` makes that optional.
ADDITIONS = [
    "contract_second_factors.graphql",  # issue 14
    "contract_reach.graphql",  # issue 16
    "contract_sessions.graphql",  # issue 13, sessions
]


def contract_schema() -> GraphQLSchema:
    """The contract's first schema block with each addition applied in order: a type an
    addition defines replaces the one of that name; its `extend`s extend, and a field an
    `extend` names again replaces the earlier one (refreshSession's argument made optional)."""
    base = parse((ROOT / "tests" / "contract.graphql").read_text())
    definitions = list(base.definitions)
    for name in ADDITIONS:
        addition = parse((ROOT / "tests" / name).read_text())
        redefined = {
            d.name.value for d in addition.definitions if isinstance(d, TypeDefinitionNode)
        }
        definitions = [
            _without_fields(d, _extended_fields(addition))
            for d in definitions
            if not (isinstance(d, TypeDefinitionNode) and d.name.value in redefined)
        ]
        definitions += addition.definitions
    return build_ast_schema(DocumentNode(definitions=tuple(definitions)))


def _extended_fields(addition: DocumentNode) -> dict[str, set[str]]:
    """Type name -> the fields the addition's `extend type`s name."""
    named: dict[str, set[str]] = {}
    for d in addition.definitions:
        if isinstance(d, ObjectTypeExtensionNode):
            named.setdefault(d.name.value, set()).update(f.name.value for f in d.fields or ())
    return named


def _without_fields(definition: Any, named: dict[str, set[str]]) -> Any:
    """An object type (or extension) without the fields a later extension redefines."""
    if not isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
        return definition
    drop = named.get(definition.name.value, set())
    if not drop:
        return definition
    kept = tuple(f for f in definition.fields or () if f.name.value not in drop)
    return copy(definition, fields=kept)


def copy(node: Any, **changes: Any) -> Any:
    """A copy of a graphql-core AST node with some attributes changed."""
    return type(node)(**{key: getattr(node, key) for key in node.keys} | changes)


def shape(schema: GraphQLSchema) -> dict[str, object]:
    """Every public name of a schema with its type, descriptions left out."""
    out: dict[str, object] = {}
    for name, t in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            out[name] = {
                "kind": type(t).__name__,
                "interfaces": sorted(i.name for i in t.interfaces),
                "fields": {
                    f: (str(field.type), {a: str(arg.type) for a, arg in field.args.items()})
                    for f, field in t.fields.items()
                },
            }
        elif isinstance(t, GraphQLInputObjectType):
            out[name] = {f: str(field.type) for f, field in t.fields.items()}
        elif isinstance(t, GraphQLUnionType):
            out[name] = sorted(m.name for m in t.types)
        elif isinstance(t, GraphQLEnumType):
            out[name] = sorted(t.values)
        else:
            out[name] = "scalar"
    return out


def test_schema_matches_the_contract_name_by_name_and_type_by_type():
    contract = shape(contract_schema())
    ours = shape(build_schema((ROOT / "schema.graphql").read_text()))
    assert ours == contract


def test_the_additions_change_what_they_name_and_nothing_else():
    base = shape(build_schema((ROOT / "tests" / "contract.graphql").read_text()))
    applied = shape(contract_schema())
    changed = {name for name in base if base[name] != applied.get(name)}
    assert changed == {
        "User",
        "Mutation",
        "SecondFactorRequired",
        "VerifyLoginInput",
        "ResetPasswordInput",
        "Session",  # issue 13: refreshToken null in cookie mode
        "SignupInput",
        "Query",
    }
    assert applied["SecondFactorRequired"]["fields"]["sentTo"][0] == "String"  # type: ignore[index]
    assert applied["VerifyLoginInput"]["method"] == "SecondFactor!"  # type: ignore[index]
    assert applied["SignupInput"]["channel"] == "Channel!"  # type: ignore[index]
    login_args = applied["Mutation"]["fields"]["login"][1]  # type: ignore[index]
    assert login_args == {"input": "LoginInput!", "channel": "Channel!"}
    assert "totpEnabled" in applied["User"]["fields"]  # type: ignore[index]


def test_refresh_session_takes_its_token_optionally_and_a_session_may_omit_it():
    applied = shape(contract_schema())
    mutation = applied["Mutation"]["fields"]  # type: ignore[index]
    assert mutation["refreshSession"] == ("RefreshSessionResult!", {"refreshToken": "String"})
    assert applied["Session"]["fields"]["refreshToken"][0] == "String"  # type: ignore[index]

"""schema.graphql against the contract's schema (tests/contract.graphql, the contract as given):
every type, field, argument, input field, interface and union member, with its type."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

ROOT = Path(__file__).resolve().parent.parent


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
    contract = shape(build_schema((ROOT / "tests" / "contract.graphql").read_text()))
    ours = shape(build_schema((ROOT / "schema.graphql").read_text()))
    assert ours == contract

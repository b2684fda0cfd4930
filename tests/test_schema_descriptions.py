"""Every public element of the schema carries a description a client author can act on:
types, fields, arguments, input fields, unions, interfaces, enums and their values, and the
scalars we expose. GraphiQL, the generated clients and schema.graphql all show them."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    specified_scalar_types,
)

from schema.graphql import build_schema

# Short enough to be a label rather than an explanation ("The phone.").
MIN_WORDS = 3


def public_types(schema: GraphQLSchema) -> Iterator[GraphQLNamedType]:
    for name, named in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue  # introspection types and the built-in scalars are GraphQL's own
        yield named


def described_elements(schema: GraphQLSchema) -> Iterator[tuple[str, str | None]]:
    """(path, description) for every element a client author reads."""
    for named in public_types(schema):
        yield named.name, named.description
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                yield f"{named.name}.{field_name}", field.description
                for arg_name, arg in field.args.items():
                    yield f"{named.name}.{field_name}({arg_name})", arg.description
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                yield f"{named.name}.{field_name}", input_field.description
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                yield f"{named.name}.{value_name}", value.description


def test_every_public_schema_element_has_a_description():
    # given
    schema = build_schema(production=False)._schema
    # when
    missing = [path for path, text in described_elements(schema) if not (text or "").strip()]
    # then
    assert missing == [], f"add a description to: {', '.join(missing)}"


def test_every_description_says_more_than_a_label():
    # given
    schema = build_schema(production=False)._schema
    # when
    terse = [
        f"{path}: {text!r}"
        for path, text in described_elements(schema)
        if text and len(text.split()) < MIN_WORDS
    ]
    # then
    assert terse == [], "say what it means and what to do next:\n" + "\n".join(terse)


def test_the_walk_covers_every_kind_of_element_the_schema_has():
    # given
    schema = build_schema(production=False)._schema
    kinds = {type(named) for named in public_types(schema)}
    paths = [path for path, _ in described_elements(schema)]
    # then: the checks above are not vacuous
    assert {
        GraphQLObjectType,
        GraphQLInterfaceType,
        GraphQLUnionType,
        GraphQLInputObjectType,
        GraphQLScalarType,
    } <= kinds
    assert "Mutation.logout(everywhere)" in paths
    assert "ChangeIdentityInput.currentPassword" in paths
    assert "MutationError.message" in paths
    assert "SignupResult" in paths and "DateTime" in paths

"""The GraphQL shape only: types, inputs, result unions, Query/Mutation, context, limits."""

"""The account flows as plain async functions, and the primitives they share.

Nothing here imports strawberry: the GraphQL layer (schema/) parses, calls a flow and maps
its result or its ``DomainError`` to a member of the result union.
"""

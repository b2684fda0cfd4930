"""Document limits checked before any resolver runs: aliases and depth.

Both count what execution would see, every fragment spread expanded, but each fragment is
measured once. Strawberry's MaxAliasesLimiter and QueryDepthLimiter walk a fragment again
at every spread, so a 1 KB document of fragments that each spread the next one twice costs
them 2^n steps: seconds of CPU, on the event loop, per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)


@dataclass(frozen=True)
class Cost:
    aliases: int  # aliased fields, fragments expanded
    depth: int  # levels of nested selections below the root fields: "{ me { id } }" is 1


class _Measure:
    """Costs of selection sets; a fragment is measured once and a cycle counts nothing
    (graphql-core's NoFragmentCyclesRule refuses cycles)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Cost] = {}

    def selection_set(self, node: SelectionSetNode) -> Cost:
        aliases = depth = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                aliases += 1 if selection.alias else 0
                if selection.selection_set is not None:
                    inner = self.selection_set(selection.selection_set)
                    aliases += inner.aliases
                    # Introspection fields (GraphiQL's schema query) do not count as depth.
                    if not selection.name.value.startswith("__"):
                        depth = max(depth, inner.depth + 1)
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            else:
                continue
            aliases += inner.aliases
            depth = max(depth, inner.depth)
        return Cost(aliases, depth)

    def fragment(self, name: str) -> Cost:
        if name not in self.measured:
            self.measured[name] = Cost(0, 0)  # while measuring: a spread of itself adds nothing
            definition = self.fragments.get(name)
            if definition is not None:
                self.measured[name] = self.selection_set(definition.selection_set)
        return self.measured[name]


def document_limits(*, max_aliases: int, max_depth: int) -> type[ValidationRule]:
    """One validation rule class (build it once: the validation cache keys on it)."""

    class DocumentLimits(ValidationRule):
        # Measured on entering the document, inside graphql-core's visit, which turns a
        # RecursionError (a fragment chain too long) into "Validation aborted.".
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            measure = _Measure(node)
            aliases = 0
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                cost = measure.selection_set(definition.selection_set)
                aliases += cost.aliases
                if cost.depth > max_depth:
                    name = definition.name.value if definition.name else "anonymous"
                    self.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            definition,
                        )
                    )
            if aliases > max_aliases:
                self.report_error(GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}"))

    return DocumentLimits

"""Statements for a PostgreSQL statement chain (one data-modifying ``WITH`` statement),
built from the same models and querysets the ORM runs, so that a chain writes exactly the
rows the ORM would and follows every model change without a hand-written column list.

- ``insert_of(instance)``: the columns and values Tortoise's own INSERT of that unsaved
  instance would send (its executor's columns: every field but generated ones; each value
  through the field's ``to_db_value``, which also fills ``auto_now``/``auto_now_add``).
- ``statement_of(query)``: the SQL and parameters of an ORM UPDATE or DELETE queryset.
- ``Chain``: collects such parts with their parameters numbered in one sequence; a
  column of a chained INSERT may be taken from an earlier part's RETURNING, as it is or
  after a text prefix (``Prefixed``: a code's subject ``signup:<the pending signup's id>``).
- ``chain_connection(model)``: where a chain runs, or None where the ORM's statements stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.base import Field
from tortoise.models import Model

_PLACEHOLDER = re.compile(r"\$(\d+)")


def chain_connection(model: type[Model]) -> BaseDBAsyncClient | None:
    """The model's connection (the caller's transaction's, inside one) if it is PostgreSQL's,
    where a chain saves round trips; None on SQLite, which keeps the ORM's statements: it is
    a file in this process (a statement costs no round trip), and its single writer already
    lines transactions up."""
    connection = connections.get(model._meta.default_connection or "default")
    return connection if connection.capabilities.dialect == "postgres" else None


@dataclass(frozen=True)
class Prefixed:
    """A column taken from the source's RETURNING as text after ``prefix`` (a parameter),
    e.g. ``Prefixed("signup:", "id")``: what ``f"signup:{row.id}"`` makes in Python."""

    prefix: str
    column: str


def insert_of(instance: Model) -> tuple[list[str], list[Any]]:
    """The db columns and values of the INSERT ``instance.save()`` would run (no field of
    it may hold a database default: the chain has no DEFAULT to fall back on)."""
    meta = instance._meta
    columns: list[str] = []
    values: list[Any] = []
    for name, column in meta.fields_db_projection.items():
        field_object: Field[Any] = meta.fields_map[name]
        if field_object.generated:
            continue
        columns.append(column)
        values.append(field_object.to_db_value(getattr(instance, name), instance))
    if meta.db_default_db_columns:
        raise TypeError(f"{type(instance).__name__} has database defaults: not chainable")
    return columns, values


def statement_of(query: Any) -> tuple[str, list[Any]]:
    """The parameterized SQL of an ORM UPDATE or DELETE queryset (not run)."""
    query._choose_db_if_not_chosen(for_write=True)
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    return str(sql), list(params)


@dataclass
class Chain:
    """One ``WITH`` statement: named parts, each seeing the parameters it added."""

    params: list[Any] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def part(self, name: str, sql: str) -> None:
        self.parts.append(f'"{name}" AS ({sql})')

    def query(self, name: str, query: Any, *, after: str | None = None, tail: str = "") -> None:
        """An ORM UPDATE/DELETE as a part, its placeholders renumbered into the chain's.
        With ``after`` (an earlier part with a RETURNING) it changes rows only if that part
        returned one: its WHERE gains ``AND EXISTS (SELECT 1 FROM after)``. ``tail``
        follows it (e.g. ``RETURNING "id"``)."""
        sql, params = statement_of(query)
        offset = len(self.params)
        self.params.extend(params)
        sql = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)
        if after is not None:
            head, where, condition = sql.partition(" WHERE ")
            if not where:
                raise ValueError(f"{name}: a part run after another needs a WHERE")
            sql = f'{head} WHERE ({condition}) AND EXISTS (SELECT 1 FROM "{after}")'  # noqa: S608  # the ORM's SQL, a part's name
        self.part(name, f"{sql} {tail}".strip())

    def insert(
        self,
        name: str,
        instance: Model,
        *,
        source: str | None = None,
        taken: dict[str, str | Prefixed] | None = None,
        tail: str = "",
    ) -> None:
        """An INSERT of the instance's row; ``taken`` columns come from ``source`` (an earlier
        part's RETURNING, e.g. ``{"user_id": "id"}``, or ``Prefixed`` text made of one of its
        columns) instead of the instance, and the row is written once per row of ``source``
        (none if that part wrote nothing)."""
        columns, values = insert_of(instance)
        taken = taken or {}
        unknown = set(taken) - set(columns)
        if unknown:
            raise ValueError(f"no such columns: {sorted(unknown)}")
        cells = [
            self._taken(source, taken[c]) if c in taken else self.add(v)
            for c, v in zip(columns, values, strict=True)
        ]
        names = ", ".join(f'"{c}"' for c in columns)
        table = instance._meta.db_table
        if source is None:
            body = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(cells)})'  # noqa: S608
        else:  # names from the models and the caller's code; every value is a parameter
            body = f'INSERT INTO "{table}" ({names}) SELECT {", ".join(cells)} FROM "{source}"'  # noqa: S608
        self.part(name, f"{body} {tail}".strip())

    def _taken(self, source: str | None, column: str | Prefixed) -> str:
        if source is None:
            raise ValueError("taken columns need a source")
        if isinstance(column, Prefixed):
            return f'({self.add(column.prefix)}::text || "{source}"."{column.column}"::text)'
        return f'"{source}"."{column}"'

    def sql(self, final: str) -> str:
        return f"WITH {', '.join(self.parts)} {final}"

"""SELECT statements for incremental reads, shared by the SQLAlchemy and ODBC connectors.

Identifiers from config are validated and quoted; bookmark values are always bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import ConnectorError, validate_identifier


#: a timestamp as the stored (JSON) bookmark writes it: ISO 8601 with ``T`` between date and time
_ISO_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$")


def sql_bookmark_value(value: Any) -> Any:
    """A stored bookmark value as it is bound into SQL: timestamps with a space, not a ``T``.

    Databases that keep timestamps as text (SQLite, and legacy schemas elsewhere) compare them as
    text, and ``2026-05-04T22:00`` sorts after every ``2026-05-04 ...`` of the same day: rows at the
    bookmark would never be read again. Servers that parse timestamps accept both forms.
    """
    if isinstance(value, str):
        match = _ISO_TIMESTAMP.match(value)
        if match:
            return f"{match.group(1)} {match.group(2)}{match.group(3) or ''}"
    return value


def bookmark_predicate(columns: Sequence[str], values: Sequence[Any], quote: Callable[[str], str],
                       placeholder: Callable[[int], str]) -> str:
    """``(c1, c2) >= (v1, v2)`` written portably:
    ``c1 > v1 OR (c1 = v1 AND c2 >= v2)``; ``>=`` on the last column re-reads ties (at least once)."""
    clauses, n = [], 0
    for i, column in enumerate(columns):
        parts = []
        for j in range(i):
            parts.append(f"{quote(columns[j])} = {placeholder(n)}")
            n += 1
        op = ">=" if i == len(columns) - 1 else ">"
        parts.append(f"{quote(column)} {op} {placeholder(n)}")
        n += 1
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses)


def bookmark_params(columns: Sequence[str], values: Sequence[Any]) -> list[Any]:
    """Parameters in the order ``bookmark_predicate`` numbers its placeholders."""
    params: list[Any] = []
    for i in range(len(columns)):
        params.extend(values[:i])
        params.append(values[i])
    return params


def build_select(*, table: str | None, query: str | None, bookmark: Sequence[str], key: Sequence[str],
                 bookmark_value: Mapping[str, Any] | None, quote: Callable[[str], str],
                 placeholder: Callable[[int], str], where: str) -> tuple[str, list[Any]]:
    """The incremental SELECT for a stream and its parameters."""
    if (table is None) == (query is None):
        raise ConnectorError(f"{where}: give exactly one of `table` and `query`")
    for column in [*bookmark, *key]:
        validate_identifier(column, where)
    if table is not None:
        validate_identifier(table, where)
        source = ".".join(quote(part) for part in table.split("."))
    else:
        source = f"({query}) src"
    sql = f"SELECT * FROM {source}"
    params: list[Any] = []
    if bookmark and bookmark_value:
        missing = [c for c in bookmark if c not in bookmark_value]
        if missing:
            raise ConnectorError(f"{where}: stored bookmark {dict(bookmark_value)} lacks {missing}; "
                                 f"run with --full to start over")
        values = [sql_bookmark_value(bookmark_value[c]) for c in bookmark]
        sql += " WHERE " + bookmark_predicate(bookmark, values, quote, placeholder)
        params = bookmark_params(bookmark, values)
    order = [*bookmark, *[k for k in key if k not in bookmark]]
    if order:
        sql += " ORDER BY " + ", ".join(quote(c) for c in order)
    return sql, params

"""Reading back what a run left in a warehouse, straight from its tables, for the integration tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, func, select

from threadline.warehouse import schema


def _query(url: str, statement) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).mappings().all())
    finally:
        engine.dispose()


def canonical_rows(url: str, entity: str, source_system: str, *columns: str) -> dict[str, tuple]:
    """source_key -> the values of ``columns`` for one source's rows of an entity, soft-deleted ones too."""
    table = schema.CANONICAL_TABLES[entity]
    rows = _query(url, select(table.c.source_key, *(table.c[c] for c in columns))
                  .where(table.c.source_system == source_system))
    return {row["source_key"]: tuple(row[c] for c in columns) for row in rows}


def stored_bookmark(url: str, source: str, stream: str) -> dict | None:
    """The committed bookmark of a stream, as the next run will read it."""
    rows = _query(url, select(schema.bookmark.c.value).where(schema.bookmark.c.source == source,
                                                             schema.bookmark.c.stream == stream))
    return json.loads(rows[0]["value"]) if rows else None


def stream_log(url: str, run_id: str) -> list[dict]:
    """The run log rows of one run, a row per source and stream."""
    return [dict(r) for r in _query(url, select(schema.run_stream).where(schema.run_stream.c.run_id == run_id))]


def row_count(url: str, table) -> int:
    """Rows in a warehouse table."""
    return _query(url, select(func.count().label("n")).select_from(table))[0]["n"]

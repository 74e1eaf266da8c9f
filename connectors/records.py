"""Turning rows and nested records into Arrow batches."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa

T = TypeVar("T")


def _column(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # legacy databases mix types in one column (SQLite affinity, free-text numbers): keep as text
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if pa.types.is_decimal(array.type):
        return array.cast(pa.float64())
    # a column with no value in this page stays of Arrow's null type: it joins with the same column
    # of another page, typed there, instead of clashing with it as text would
    return array


def rows_to_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Row tuples (as DB-API cursors return them) -> an Arrow table, one typed column each."""
    if not rows:
        return pa.table({c: pa.array([], type=pa.string()) for c in columns})
    transposed = list(zip(*rows))
    return pa.table({name: _column(list(values)) for name, values in zip(columns, transposed)})


def dicts_to_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Flat dicts (possibly with different keys) -> an Arrow table over the union of keys."""
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            names.setdefault(key, None)
    return pa.table({name: _column([r.get(name) for r in records]) for name in names})


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, Decimal, date, datetime, time, bytes))


def flatten_nested(document: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """Rows for the records at ``path`` (``A/B/C``) in a nested dict/list document.

    A row holds the record's scalar fields by name, its nested one-level mappings dotted
    (``Address.City``), and every ancestor's scalar fields prefixed with the ancestor's name
    (``PurchaseOrder.PONumber``), so header and lines flatten into separate streams.
    """
    steps = [p for p in path.split("/") if p]
    rows: list[dict[str, Any]] = []

    def scalars(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if _is_scalar(value):
                out[prefix + key] = value
            elif isinstance(value, Mapping) and not prefix:
                for sub_key, sub_value in value.items():
                    if _is_scalar(sub_value):
                        out[f"{prefix}{key}.{sub_key}"] = sub_value
        return out

    def walk(node: Any, depth: int, context: dict[str, Any]) -> None:
        if node is None:
            return
        items: Iterable[Any] = node if isinstance(node, list) else [node]
        step = steps[depth]
        for item in items:
            if not isinstance(item, Mapping):
                continue
            child = item.get(step)
            if child is None:
                continue
            children = child if isinstance(child, list) else [child]
            for record in children:
                if not isinstance(record, Mapping):
                    continue
                if depth == len(steps) - 1:
                    rows.append({**context, **scalars(record)})
                else:
                    walk(record, depth + 1, {**context, **{f"{step}.{k}": v for k, v in scalars(record).items()}})

    walk(document, 0, {})
    return rows


def rebatch(tables: Iterable[pa.Table], batch_size: int) -> Iterator[pa.Table]:
    """Join small tables (pages, files) and cut them into batches of exactly ``batch_size`` rows
    (the last one shorter), so every batch downstream is of a useful size and memory stays bounded.

    Tables whose column types cannot be unified (a column empty on one page, dated on the next)
    are not joined: the pending rows go out as they are and joining starts again.
    """
    pending: list[pa.Table] = []
    rows = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        if pending:
            try:
                pa.unify_schemas([pending[0].schema, table.schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                yield from pending
                pending, rows = [], 0
        pending.append(table)
        rows += table.num_rows
        if rows >= batch_size:
            joined = pa.concat_tables(pending, promote_options="permissive")
            cut = rows - rows % batch_size
            for start in range(0, cut, batch_size):
                yield joined.slice(start, batch_size)
            pending = [joined.slice(cut)] if cut < rows else []
            rows -= cut
    if pending:
        yield pa.concat_tables(pending, promote_options="permissive")


_DONE = object()


def prefetch(batches: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``batches`` while a background thread already reads the next ``depth`` of them.

    Extraction waits on the source (a socket, an ODBC driver) while mapping and loading work on the
    previous batch; both release the GIL often enough to overlap. At most ``depth`` batches wait in
    the queue, so memory stays bounded by the batch size. An error in the reader is raised here, at
    the point in the sequence where it happened; when the consumer stops early, the reader closes
    the source iterator in its own thread and ends.
    """
    if depth < 1:
        yield from batches
        return
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(batches)
        try:
            for batch in iterator:
                if not offer((batch, None)):
                    break
            else:
                offer((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            offer((_DONE, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="threadline-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            batch, error = waiting.get()
            if batch is _DONE:
                if error is not None:
                    raise error
                return
            yield batch
    finally:
        stop.set()
        reader.join()

"""Reading and writing the warehouse: idempotent upserts, bookmarks, quarantine, run log.

Every write that belongs to one batch (canonical rows, quarantined rows, the new bookmark) goes
through one transaction, so the bookmark can never run ahead of the data.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, and_, bindparam, exists, func, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from threadline.warehouse import schema
from threadline.warehouse.db import make_engine, upgrade

#: rows per executemany call: bounds memory of the parameter lists
CHUNK_ROWS = 20_000


def utcnow() -> datetime:
    """Naive UTC timestamp, the convention of every warehouse DateTime column."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _insert(conn: Connection, table: Table):
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(
        f"warehouse dialect {conn.dialect.name!r} is not supported; use SQLite or PostgreSQL"
    )


def to_records(frame: pd.DataFrame, table: Table) -> list[dict[str, Any]]:
    """DataFrame -> parameter dicts with Python values the DB-API accepts (None for missing)."""
    arrays = {}
    for column in table.columns:
        if column.name not in frame.columns:
            continue
        s = frame[column.name]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            values = s.dt.date if column.type.python_type is date else s.dt.to_pydatetime()
            arr = np.array(values, dtype=object)
            arr[s.isna().to_numpy()] = None
        else:
            arr = s.astype(object).to_numpy(copy=True)
            arr[pd.isna(s).to_numpy()] = None
        arrays[column.name] = arr
    names = list(arrays)
    return [dict(zip(names, row)) for row in zip(*arrays.values())]


def _storage_columns(frame: pd.DataFrame, table: Table, names: list[str]) -> list[np.ndarray]:
    """Each column as an object array of plain values, dates and timestamps as ISO text, None for missing.

    Converting whole columns here instead of letting SQLAlchemy process every parameter makes
    loads several times faster; the text is the storage format SQLAlchemy itself writes and reads.
    """
    arrays = []
    for name in names:
        s = frame[name]
        python_type = table.c[name].type.python_type
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = s.dt.strftime("%Y-%m-%d" if python_type is date else "%Y-%m-%d %H:%M:%S.%f") \
                .astype(object).to_numpy(copy=True)
        else:
            arr = s.astype(object).to_numpy(copy=True)
            if python_type in (date, datetime) and s.dtype == object:
                arr = np.array([v.isoformat(sep=" ") if isinstance(v, datetime) else
                                v.isoformat() if isinstance(v, date) else v for v in arr], dtype=object)
        arr[pd.isna(s).to_numpy()] = None
        arrays.append(arr)
    return arrays


def _copy_csv(cursor, target: str, columns: str, names: list[str], values: list[np.ndarray]) -> None:
    """COPY column arrays (from ``_storage_columns``) into ``target`` as CSV; None arrives as NULL."""
    buffer = io.StringIO()
    pd.DataFrame(dict(zip(names, values))).to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def _copy_upsert(conn: Connection, table: Table, frame: pd.DataFrame, names: list[str],
                 primary_key: list[str]) -> None:
    """PostgreSQL: COPY the rows into a session temp table, then one INSERT ... ON CONFLICT from it.

    Empty text and missing values both arrive as NULL (CSV's unquoted empty field), which is how
    the canonical model treats blank source values anyway.
    """
    quote = conn.dialect.identifier_preparer.quote
    target, staging = quote(table.name), quote(f"tl_stage_{table.name}")
    columns = ", ".join(quote(n) for n in names)
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {target}) ON COMMIT DELETE ROWS")
    unique = frame.drop_duplicates(primary_key, keep="last")  # ON CONFLICT may touch a row once only
    _copy_csv(cursor, staging, columns, names, _storage_columns(unique, table, names))
    updates = ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in names if n not in primary_key)
    # a key-only table has nothing to update: a row that is there already is left as it is
    action = "DO NOTHING"
    if updates:
        unchanged = ""
        if "record_hash" in names:
            unchanged = f" WHERE {target}.record_hash IS DISTINCT FROM EXCLUDED.record_hash"
            if _revives(table, names):
                # a soft-deleted row read again is back, even when its content did not change
                updates += ", deleted_at = NULL, deleted_run_id = NULL"
                unchanged += f" OR {target}.deleted_at IS NOT NULL"
        action = f"DO UPDATE SET {updates}{unchanged}"
    cursor.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging} "
                   f"ON CONFLICT ({', '.join(quote(k) for k in primary_key)}) {action}")
    cursor.execute(f"TRUNCATE {staging}")
    cursor.close()


def upsert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert or update rows by primary key; rows whose record_hash is unchanged are left alone."""
    if frame.empty:
        return 0
    primary_key = [c.name for c in table.primary_key.columns]
    names = [c.name for c in table.columns if c.name in frame.columns]
    if conn.dialect.name == "postgresql":
        for start in range(0, len(frame), CHUNK_ROWS):
            _copy_upsert(conn, table, frame.iloc[start:start + CHUNK_ROWS], names, primary_key)
        return len(frame)
    sql, order = _sqlite_upsert_sql(conn, table, names, primary_key)
    for start in range(0, len(frame), CHUNK_ROWS):
        columns = dict(zip(names, _storage_columns(frame.iloc[start:start + CHUNK_ROWS], table, names)))
        conn.exec_driver_sql(sql, list(zip(*(columns[n] for n in order))))
    return len(frame)


def insert_rows(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Append rows in bulk (COPY on PostgreSQL, one executemany on SQLite); columns not given get defaults."""
    if frame.empty:
        return 0
    names = [c.name for c in table.columns if c.name in frame.columns]
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    for start in range(0, len(frame), CHUNK_ROWS):
        values = _storage_columns(frame.iloc[start:start + CHUNK_ROWS], table, names)
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()
            _copy_csv(cursor, quote(table.name), columns, names, values)
            cursor.close()
        else:
            marks = ", ".join("?" for _ in names)
            conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})", list(zip(*values)))
    return len(frame)


def _revives(table: Table, names: list[str]) -> bool:
    """Whether an upsert into ``table`` must clear a soft delete (canonical tables, rows without one)."""
    return "deleted_at" in table.c and "deleted_at" not in names


def _sqlite_upsert_sql(conn: Connection, table: Table, names: list[str], primary_key: list[str]) -> tuple[str, list[str]]:
    """The SQLite INSERT ... ON CONFLICT statement and the order of its positional parameters."""
    stmt = _insert(conn, table).values({n: bindparam(n, type_=table.c[n].type) for n in names})
    changing = {n: stmt.excluded[n] for n in names if n not in primary_key}
    if not changing:  # a key-only table: a row that is there already is left as it is
        stmt = stmt.on_conflict_do_nothing(index_elements=primary_key)
    else:
        where = None
        if "record_hash" in names:
            where = table.c.record_hash != stmt.excluded.record_hash
            if _revives(table, names):
                # a soft-deleted row read again is back, even when its content did not change
                changing.update(deleted_at=null(), deleted_run_id=null())
                where = or_(where, table.c.deleted_at.is_not(None))
        stmt = stmt.on_conflict_do_update(index_elements=primary_key, set_=changing, where=where)
    compiled = stmt.compile(dialect=conn.dialect)
    return str(compiled), [compiled.binds[b].key for b in compiled.positiontup]


class MassDeleteError(Exception):
    """A full refresh would soft-delete more of a source's rows than its configured limit allows."""

    def __init__(self, source: str, entity: str, going: int, before: int, max_fraction: float):
        super().__init__(
            f"source {source!r}: the full refresh did not read {going:,} of the {before:,} {entity} rows the "
            f"warehouse holds ({going / before:.0%}, limit {max_fraction:.0%}); nothing was soft-deleted. "
            f"Check the source's tables and queries; if the source really dropped them, raise "
            f"max_delete_fraction for this source and run the full refresh again")
        self.source, self.entity, self.going, self.before = source, entity, going, before


def quarantine_id(source: str, stream: str, source_key: str | None, field: str, check: str, record: str) -> str:
    """Stable id of a quarantined row, so a re-read updates it instead of adding another."""
    # a row whose key could not be read (None or pandas' NA) is known by its whole record instead
    has_key = isinstance(source_key, str) and source_key != ""
    basis = f"{source}|{stream}|{source_key if has_key else record}|{field}|{check}"
    return "Q-" + hashlib.sha1(basis.encode()).hexdigest()[:16]


def lock_for_write(conn: Connection, table: Table) -> None:
    """Hold off every other writer of ``table`` until ``conn``'s transaction ends; readers go on.

    For a read-modify-write that must not lose a change made in between (a run publishing exceptions
    while a steward acts on them): PostgreSQL locks the table in SHARE ROW EXCLUSIVE mode; SQLite has
    one writer per database, so a no-op write takes the database's write lock now instead of at the
    first real write.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'LOCK TABLE "{table.name}" IN SHARE ROW EXCLUSIVE MODE')
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f'UPDATE "{table.name}" SET rowid = rowid WHERE 0')
    else:
        raise NotImplementedError(f"no write lock for {conn.dialect.name} warehouses")


class Warehouse:
    """The warehouse behind one SQLAlchemy URL."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None):
        self.engine = engine or make_engine(url)

    def upgrade(self) -> None:
        """Run pending migrations."""
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------- bookmarks
    def get_bookmark(self, source: str, stream: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(schema.bookmark.c.value).where(
                schema.bookmark.c.source == source, schema.bookmark.c.stream == stream)).scalar()
        return json.loads(value) if value else None

    @staticmethod
    def set_bookmark(conn: Connection, source: str, stream: str, value: Mapping[str, Any], run_id: str) -> None:
        frame = pd.DataFrame([{"source": source, "stream": stream, "value": json.dumps(value, default=str),
                               "run_id": run_id, "updated_at": utcnow()}])
        upsert(conn, schema.bookmark, frame)

    def clear_bookmark(self, source: str, stream: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.bookmark.delete().where(
                schema.bookmark.c.source == source, schema.bookmark.c.stream == stream))

    # ------------------------------------------------------------- loads
    def load_batch(self, *, entity: str, rows: pd.DataFrame, quarantined: pd.DataFrame, source: str,
                   stream: str, run_id: str, bookmark: Mapping[str, Any] | None,
                   track_keys: bool = False) -> int:
        """Upsert canonical rows, record quarantined rows and move the bookmark in one transaction.

        With ``track_keys`` (a full refresh), the source keys of the batch, loaded or quarantined,
        are recorded too, so that :meth:`soft_delete_unseen` knows what the source still holds.
        """
        table = schema.CANONICAL_TABLES[entity]
        now = utcnow()
        with self.engine.begin() as conn:
            loaded = upsert(conn, table, rows.assign(loaded_at=now))
            self._record_quarantine(conn, quarantined, source=source, stream=stream, entity=entity,
                                    run_id=run_id, now=now)
            if track_keys:
                keys = pd.concat([rows["source_key"], quarantined.get("source_key", pd.Series(dtype=object))])
                keys = keys.dropna().astype(str).drop_duplicates()
                upsert(conn, schema.key_seen, pd.DataFrame(
                    {"run_id": run_id, "source": source, "entity": entity, "source_key": keys.to_numpy()}))
            if bookmark is not None:
                self.set_bookmark(conn, source, stream, bookmark, run_id)
        return loaded

    def _record_quarantine(self, conn: Connection, quarantined: pd.DataFrame, *, source: str, stream: str,
                           entity: str, run_id: str, now: datetime) -> None:
        if quarantined.empty:
            return
        frame = pd.DataFrame({
            "quarantine_id": [quarantine_id(source, stream, k, f, c, r) for k, f, c, r in zip(
                quarantined["source_key"], quarantined["field"], quarantined["check"], quarantined["record"])],
            "source": source, "stream": stream, "entity": entity,
            "source_key": quarantined["source_key"].to_numpy(),
            "field": quarantined["field"].to_numpy(),
            "source_column": quarantined["column"].to_numpy(),
            "raw_value": quarantined["raw_value"].to_numpy(),
            "check_name": quarantined["check"].to_numpy(),
            "reason": quarantined["reason"].to_numpy(),
            "record": quarantined["record"].to_numpy(),
        }).drop_duplicates("quarantine_id", keep="last")
        table = schema.quarantine
        stmt = _insert(conn, table)
        stmt = stmt.on_conflict_do_update(index_elements=["quarantine_id"], set_={
            "reason": stmt.excluded.reason, "raw_value": stmt.excluded.raw_value, "record": stmt.excluded.record,
            "last_run_id": stmt.excluded.last_run_id, "last_seen_at": stmt.excluded.last_seen_at,
            "times_seen": table.c.times_seen + 1,
        })
        frame = frame.assign(first_run_id=run_id, last_run_id=run_id, first_seen_at=now, last_seen_at=now,
                             times_seen=1)
        conn.execute(stmt, to_records(frame, table))

    def soft_delete_unseen(self, *, source: str, entity: str, run_id: str,
                           max_fraction: float) -> tuple[int, int]:
        """Soft-delete the rows of ``source`` in ``entity`` that the full refresh ``run_id`` did not read.

        Returns (rows soft-deleted, rows the source had before). Raises :class:`MassDeleteError` and
        deletes nothing when more than ``max_fraction`` of the rows would go: an emptied table or a
        narrowed query is far likelier than a plant deleting most of its records at once.
        """
        table = schema.CANONICAL_TABLES[entity]
        seen = schema.key_seen
        live = and_(table.c.source_system == source, table.c.deleted_at.is_(None))
        unseen = ~exists().where(seen.c.run_id == run_id, seen.c.source == source, seen.c.entity == entity,
                                 seen.c.source_key == table.c.source_key)
        with self.engine.begin() as conn:
            before = conn.execute(select(func.count()).select_from(table).where(live)).scalar_one()
            going = conn.execute(select(func.count()).select_from(table).where(live, unseen)).scalar_one()
            if going and going > max_fraction * before:
                raise MassDeleteError(source, entity, going, before, max_fraction)
            if going:
                conn.execute(update(table).where(live, unseen).values(deleted_at=utcnow(), deleted_run_id=run_id))
        return going, before

    def forget_seen_keys(self, run_id: str) -> None:
        """Drop the key snapshot of a full refresh once its deletes are settled."""
        with self.engine.begin() as conn:
            conn.execute(schema.key_seen.delete().where(schema.key_seen.c.run_id == run_id))

    # ------------------------------------------------------------- inbox ledger
    def processed_inbox_files(self, source: str) -> dict[str, tuple[str, str]]:
        """sha256 -> (file name, run id) of the files of an inbox source already processed (the first one)."""
        table = schema.inbox_file
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.sha256, table.c.file_name, table.c.run_id)
                                .where(table.c.source == source, table.c.status == "processed")
                                .order_by(table.c.recorded_at.desc())).all()
        return {sha: (name, run_id) for sha, name, run_id in rows}  # the earliest wins: rows come newest first

    def record_inbox_files(self, rows: pd.DataFrame) -> None:
        """Write ledger rows (source, run_id, file_name, sha256, size, status, reason); ``recorded_at`` is now."""
        with self.engine.begin() as conn:
            upsert(conn, schema.inbox_file, rows.assign(recorded_at=utcnow()))

    # ------------------------------------------------------------- reads
    def read_entity(self, entity: str, columns: Iterable[str] | None = None, *,
                    include_deleted: bool = False) -> pd.DataFrame:
        """Rows of a canonical table as a DataFrame with canonical dtypes (soft-deleted rows left out)."""
        from mappings.canonical import ENTITIES
        from mappings.engine import coerce

        table = schema.CANONICAL_TABLES[entity]
        selected = [table.c[c] for c in columns] if columns else list(table.columns)
        query = select(*selected)
        if not include_deleted:
            query = query.where(table.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            frame = pd.read_sql(query, conn)
        for f in ENTITIES[entity].fields:
            if f.name in frame.columns:
                frame[f.name] = coerce(frame[f.name], f.type)[0]
        return frame

    def lookup_values(self, entity: str, source: str, match: str, value: str) -> pd.DataFrame:
        """Two fields of one source's live rows of a canonical table, for the mapping ``lookup`` transform."""
        table = schema.CANONICAL_TABLES[entity]
        query = (select(table.c[match], table.c[value])
                 .where(table.c.source_system == source, table.c.deleted_at.is_(None)))
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def read_table(self, table: Table, *where, order_by=None, limit: int | None = None) -> pd.DataFrame:
        stmt = select(table)
        for clause in where:
            stmt = stmt.where(clause)
        if order_by is not None:
            stmt = stmt.order_by(*order_by) if isinstance(order_by, (list, tuple)) else stmt.order_by(order_by)
        if limit:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return pd.read_sql(stmt, conn)

    def count(self, table: Table, *where) -> int:
        """Rows of a table, optionally only those matching the given clauses."""
        stmt = select(func.count()).select_from(table)
        for clause in where:
            stmt = stmt.where(clause)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()

    # ------------------------------------------------------------- run log
    def start_run(self, run_id: str, command: str, config_path: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.run.insert().values(run_id=run_id, command=command, status="running",
                                                    started_at=utcnow(), config_path=config_path))

    def finish_run(self, run_id: str, status: str, *, summary: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(schema.run).where(schema.run.c.run_id == run_id).values(
                status=status, finished_at=utcnow(), error=error,
                summary=json.dumps(summary, default=str) if summary is not None else None))

    def record_stream(self, values: Mapping[str, Any]) -> None:
        """Insert or update the run-log row of one (run, source, stream)."""
        frame = pd.DataFrame([dict(values)])
        with self.engine.begin() as conn:
            upsert(conn, schema.run_stream, frame)


def open_warehouse(url: str, *, migrate: bool = True) -> Warehouse:
    """Open the warehouse, bringing its schema up to date first unless told not to."""
    warehouse = Warehouse(url)
    if migrate:
        warehouse.upgrade()
    return warehouse

"""Databases reached through a SQLAlchemy URL (SQLite files, PostgreSQL, MariaDB, ...)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from pydantic import Field, model_validator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel
from connectors.faults import is_retryable
from connectors.records import rows_to_table
from connectors.sqlbuild import build_select


class SqlSettings(StrictModel):
    url: str = Field(description="SQLAlchemy URL without the password")
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    site: str | None = None


class SqlStream(StreamSettings):
    table: str | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self):
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` and `query`")
        return self


class SqlConnector(Connector):
    """Reads tables or queries in batches, ``>=`` the bookmark and ordered by it."""

    settings_model = SqlSettings
    stream_model = SqlStream

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        url = make_url(self.settings.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # SQLite would silently create an empty database where the legacy file should be
            from pathlib import Path

            if not Path(url.database).is_file():
                raise ConnectorError(f"{self.where()}: SQLite database file {url.database} does not exist; "
                                     f"check connection.url")
        password = self.password()
        if password is not None:
            url = url.set(password=password)
        self._engine = create_engine(url)

    def read(self, stream: SqlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        quote = self._engine.dialect.identifier_preparer.quote
        sql, params = build_select(table=stream.table, query=stream.query, bookmark=stream.bookmark,
                                   key=stream.key, bookmark_value=bookmark, quote=quote,
                                   placeholder=lambda i: f":p{i}", where=self.where(stream))
        try:
            with self._engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(
                    text(sql), {f"p{i}": v for i, v in enumerate(params)})
                columns = list(result.keys())
                while rows := result.fetchmany(stream.batch_size):
                    yield rows_to_table(columns, rows)
        except DBAPIError as exc:
            raise self._error(exc, stream) from exc

    def _error(self, exc: DBAPIError, stream: StreamSettings) -> ConnectorError:
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        transient = isinstance(exc, OperationalError) and (sqlstate is None or is_retryable("sqlstate", sqlstate))
        if exc.connection_invalidated:
            transient = True
        detail = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        return ConnectorError(f"{self.where(stream)}: the database refused the read: {detail}", transient=transient)

    def check(self) -> list[str]:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            return [f"{self.where()}: cannot connect: {str(exc.orig).splitlines()[0]}"]
        return []

    def close(self) -> None:
        self._engine.dispose()

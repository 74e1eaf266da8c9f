"""Databases reached over ODBC (a DSN or a connection string) through pyodbc.

The password is never written in the connection string of the config: it comes from the
environment variable named by ``password_env`` and is appended as ``PWD=`` at connect time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from pydantic import Field, model_validator

from connectors.base import Connector, ConnectorError, StrictModel
from connectors.faults import is_retryable
from connectors.records import rows_to_table
from connectors.sql import SqlStream
from connectors.sqlbuild import build_select


class OdbcSettings(StrictModel):
    dsn: str | None = Field(default=None, description="ODBC data source name")
    connection_string: str | None = Field(default=None, description="ODBC connection string without PWD")
    username: str | None = None
    password_env: str | None = None
    encoding: str = Field(default="utf-8", description="code page of the legacy text columns")
    timeout_seconds: int = Field(default=30, gt=0)
    site: str | None = None

    @model_validator(mode="after")
    def _dsn_or_string(self):
        if (self.dsn is None) == (self.connection_string is None):
            raise ValueError("give exactly one of `dsn` and `connection_string`")
        if self.connection_string and "pwd=" in self.connection_string.lower().replace(" ", ""):
            raise ValueError("the connection string must not contain PWD=; use password_env")
        return self


def _sqlstate(exc: Exception) -> str | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) and len(exc.args[0]) == 5 else None


class OdbcConnector(Connector):
    """Reads tables or queries through an ODBC driver, ``>=`` the bookmark and ordered by it."""

    settings_model = OdbcSettings
    stream_model = SqlStream

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        self._password = self.password()
        self._connection = None

    def _connection_string(self) -> str:
        s = self.settings
        parts = [f"DSN={s.dsn}"] if s.dsn else [s.connection_string.rstrip(";")]
        if s.username:
            parts.append(f"UID={s.username}")
        if self._password is not None:
            parts.append("PWD={" + self._password.replace("}", "}}") + "}")
        return ";".join(parts)

    def _connect(self):
        import pyodbc

        if self._connection is None:
            try:
                self._connection = pyodbc.connect(self._connection_string(), timeout=self.settings.timeout_seconds,
                                                  autocommit=True)
            except pyodbc.Error as exc:
                raise self._error(exc, None) from None
            encoding = self.settings.encoding
            self._connection.setdecoding(pyodbc.SQL_CHAR, encoding=encoding)
            self._connection.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8" if encoding == "utf-8" else encoding)
        return self._connection

    def _quote(self, name: str) -> str:
        import pyodbc

        char = (self._connect().getinfo(pyodbc.SQL_IDENTIFIER_QUOTE_CHAR) or '"').strip() or '"'
        return f"{char}{name}{char}"

    def read(self, stream: SqlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        import pyodbc

        sql, params = build_select(table=stream.table, query=stream.query, bookmark=stream.bookmark,
                                   key=stream.key, bookmark_value=bookmark, quote=self._quote,
                                   placeholder=lambda i: "?", where=self.where(stream))
        try:
            cursor = self._connect().cursor()
            cursor.execute(sql, params)
            columns = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(stream.batch_size):
                yield rows_to_table(columns, rows)
            cursor.close()
        except pyodbc.Error as exc:
            raise self._error(exc, stream) from None

    def _error(self, exc: Exception, stream) -> ConnectorError:
        state = _sqlstate(exc)
        # the driver's message never contains the password: it is only in the connection string
        detail = str(exc.args[1] if len(exc.args) > 1 else exc).replace(self._password or "\0", "***")
        return ConnectorError(f"{self.where(stream)}: ODBC error {state or ''}: {detail}",
                              transient=bool(state) and is_retryable("sqlstate", state))

    def check(self) -> list[str]:
        try:
            self._connect()
        except ConnectorError as exc:
            return [str(exc)]
        return []

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

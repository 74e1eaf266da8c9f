"""Databases reached over ODBC (a DSN or a connection string).

Bulk reads go through arrow-odbc, which binds whole column buffers and hands back Arrow batches
without building a Python object per value; pyodbc stays for what it is good at: checking the
connection and catalog look-ups (the identifier quote character, the range of a chunking key).

The password is never written in the connection string of the config: it comes from the
environment variable named by ``password_env`` and is handed to the driver at connect time only.
"""

from __future__ import annotations

import codecs
import importlib
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from connectors.base import Connector, ConnectorError, StrictModel, validate_identifier
from connectors.faults import is_retryable
from connectors.sql import SqlStream
from connectors.sqlbuild import build_select

_SQLSTATE_IN_MESSAGE = re.compile(r"State: ([0-9A-Z]{5})")
# Drivers that lose the socket mid-fetch do not always report SQLSTATE 08xxx (psqlODBC says HY000
# or 08S01 depending on where the loss is noticed); these texts are what they say instead.
_CONNECTION_LOST = re.compile(r"server closed the connection|terminating connection|connection .*(lost|closed|"
                              r"reset|broken)|lost connection|gone away|could not send|communication link failure|"
                              r"no connection to the server", re.IGNORECASE)


class OdbcSettings(StrictModel):
    dsn: str | None = Field(default=None, description="ODBC data source name")
    connection_string: str | None = Field(default=None, description="ODBC connection string without PWD")
    username: str | None = None
    password_env: str | None = None
    encoding: str = Field(default="utf-8", description="code page of the legacy text columns")
    timeout_seconds: int = Field(default=30, gt=0)
    max_text_size: int | None = Field(default=None, gt=0, description=(
        "upper bound in bytes of one text value, for columns the driver reports as unbounded (TEXT, "
        "VARCHAR(MAX)); the transit buffer is sized from it"))
    site: str | None = None

    @model_validator(mode="after")
    def _dsn_or_string(self):
        if (self.dsn is None) == (self.connection_string is None):
            raise ValueError("give exactly one of `dsn` and `connection_string`")
        if self.connection_string and "pwd=" in self.connection_string.lower().replace(" ", ""):
            raise ValueError("the connection string must not contain PWD=; use password_env")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {self.encoding!r}; give a Python codec name such as "
                             f"utf-8, cp1252 or latin-1") from None
        return self


class OdbcStream(SqlStream):
    """A table or query read over ODBC, optionally in key ranges."""

    chunk_by: str | None = Field(default=None, description=(
        "integer column to read in ranges of chunk_size values, one query each: bounds memory on "
        "drivers that buffer whole results (MariaDB Connector/ODBC); must be the first ordering column"))
    chunk_size: int = Field(default=1_000_000, gt=0, description="width of one chunk_by range")

    @model_validator(mode="after")
    def _chunk_leads_the_order(self):
        order = [*self.bookmark, *[k for k in self.key if k not in self.bookmark]]
        if self.chunk_by is not None and (not order or order[0] != self.chunk_by):
            raise ValueError(f"chunk_by {self.chunk_by!r} must be the first bookmark column (or the first key "
                             f"column without a bookmark), so that chunks arrive in bookmark order")
        return self


def _sqlstate(exc: Exception) -> str | None:
    """SQLSTATE of a pyodbc error (first argument) or an arrow-odbc error (in its message)."""
    if exc.args and isinstance(exc.args[0], str) and len(exc.args[0]) == 5:
        return exc.args[0]
    found = _SQLSTATE_IN_MESSAGE.findall(str(exc))
    return found[-1] if found else None


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


@cache
def _single_byte_code_page(encoding: str) -> tuple[np.ndarray, np.ndarray] | None:
    """UTF-8 bytes of each of the 256 byte values of a single-byte code page, as (lengths, padded bytes).

    None when the codec is not single-byte (one byte may not be one character).
    """
    name = codecs.lookup(encoding).name
    if name not in ("iso8859-1", "ascii"):
        try:
            module = importlib.import_module("encodings." + name.replace("-", "_"))
        except ImportError:
            return None
        # Python's single-byte codecs are charmaps with a 256-entry decoding table
        if not hasattr(module, "decoding_table"):
            return None
    characters = []
    for byte in range(256):
        try:
            character = bytes([byte]).decode(encoding)
        except UnicodeDecodeError:
            # bytes a code page leaves undefined (0x81 in cp1252): Windows maps them to the C1
            # control of the same number, and so do we, so nothing is lost or replaced
            character = chr(byte)
        characters.append(character.encode("utf-8"))
    lengths = np.array([len(c) for c in characters], dtype=np.int64)
    padded = np.zeros((256, 4), dtype=np.uint8)
    for byte, utf8 in enumerate(characters):
        padded[byte, :len(utf8)] = np.frombuffer(utf8, dtype=np.uint8)
    return lengths, padded


def decode_code_page(array: pa.Array, encoding: str) -> pa.Array:
    """Binary values in a legacy code page -> UTF-8 strings, vectorized for single-byte code pages.

    Each source byte becomes the 1-3 UTF-8 bytes of its character through a 256-entry table; the
    new offsets are the running sum of those lengths, so no value passes through Python.
    """
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([decode_code_page(chunk, encoding) for chunk in array.chunks], type=pa.string())
    table = _single_byte_code_page(encoding)
    if table is None:
        # multi-byte legacy code pages (cp932, gb2312) cannot be split by byte: decode value by value
        return pa.array([None if v is None else v.decode(encoding) for v in array.to_pylist()], type=pa.string())
    lengths, padded = table
    array = array.cast(pa.binary())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset:array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    source = (np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buffer is not None
              else np.zeros(0, dtype=np.uint8))
    widths = lengths[source]
    ends = np.concatenate([[0], np.cumsum(widths)])
    new_offsets = ends[offsets - offsets[0]]
    if new_offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("a batch of text is over 2 GiB once decoded; lower the stream's batch_size")
    # byte k of every character lands at its start + k; only the k < width ones are real
    utf8 = np.empty(int(ends[-1]), dtype=np.uint8)
    starts = ends[:-1]
    for k in range(int(lengths.max(initial=1))):
        present = widths > k
        utf8[starts[present] + k] = padded[source[present], k]
    validity = array.buffers()[0]
    if validity is not None and array.offset:
        validity = pc.is_valid(array).buffers()[1]
    return pa.StringArray.from_buffers(len(array), pa.py_buffer(new_offsets.astype(np.int32)),
                                       pa.py_buffer(utf8), validity, array.null_count)


def _text_as_binary(converted: set[str]):
    """A ``map_schema`` hook fetching text columns as raw bytes, noting their names in ``converted``.

    Their code page is the config's, not the UTF-8 arrow-odbc assumes on this platform; binary
    columns of the source stay binary.
    """
    def hook(schema: pa.Schema) -> pa.Schema:
        fields = []
        for field in schema:
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                converted.add(field.name)
                field = field.with_type(pa.binary())
            fields.append(field)
        return pa.schema(fields)

    return hook


def _as_mapping_types(batch: pa.RecordBatch | pa.Table, encoding: str, fetched_as_bytes: set[str]) -> pa.Table:
    """Arrow types the mapping engine and the control totals work with.

    Decimals become float64 (the canonical decimal type, and what the control totals sum), columns
    of unknown type become text, and text fetched as bytes is decoded from the declared code page.
    """
    columns = []
    for field, column in zip(batch.schema, batch.columns):
        if pa.types.is_decimal(field.type):
            column = column.cast(pa.float64())
        elif pa.types.is_null(field.type):
            column = column.cast(pa.string())
        elif field.name in fetched_as_bytes:
            column = decode_code_page(column, encoding)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.schema.names)


def _parameter_text(value: Any) -> str | None:
    """A bookmark value as the text arrow-odbc binds (every parameter travels as VARCHAR).

    The database converts it to the column's type: integers and decimals in plain notation, dates
    and timestamps in ISO form, which the stored (JSON) bookmark already uses.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(value, "day") else value.isoformat()
    return str(value)


class OdbcConnector(Connector):
    """Reads tables or queries through an ODBC driver, ``>=`` the bookmark and ordered by it."""

    settings_model = OdbcSettings
    stream_model = OdbcStream
    # arrow-odbc fetches and converts outside the GIL: the next batch comes while this one is mapped
    default_prefetch_batches = 1

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        self._password = self.password()
        self._connection = None

    def _connection_string(self) -> str:
        """The connection string without the password (arrow-odbc and pyodbc add it at connect time)."""
        s = self.settings
        parts = [f"DSN={s.dsn}"] if s.dsn else [s.connection_string.strip().rstrip(";")]
        if s.username:
            parts.append(f"UID={s.username}")
        # arrow-odbc appends its own attributes to the string: it must end with a separator
        return ";".join(parts) + ";"

    def _bulk_connection_string(self) -> str:
        """The connection string arrow-odbc reads with, set for bounded memory where the driver needs it."""
        import pyodbc

        string = self._connection_string()
        driver = (self._connect().getinfo(pyodbc.SQL_DRIVER_NAME) or "").lower()
        # psqlODBC holds the whole result in memory unless it reads through a cursor; a setting in
        # the connection string (either way) wins
        if driver.startswith("psqlodbc") and "usedeclarefetch" not in string.lower().replace(" ", ""):
            string += "UseDeclareFetch=1;"
        return string

    def _connect(self):
        import pyodbc

        if self._connection is None:
            secret = "" if self._password is None else "PWD={" + self._password.replace("}", "}}") + "};"
            try:
                self._connection = pyodbc.connect(self._connection_string() + secret,
                                                  timeout=self.settings.timeout_seconds, autocommit=True)
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
        """Yield Arrow tables of at most ``stream.batch_size`` rows, ``>=`` the bookmark, in its order."""
        chunk_by = getattr(stream, "chunk_by", None)
        if chunk_by is None:
            yield from self._read_query(stream, stream.table, stream.query, bookmark, [])
            return
        for low, high in self._chunks(stream, chunk_by, bookmark):
            column = self._quote(validate_identifier(chunk_by, self.where(stream)))
            if stream.table is not None:
                source = ".".join(self._quote(p) for p in validate_identifier(stream.table, self.where(stream))
                                  .split("."))
            else:
                source = f"({stream.query}) chunked"
            # the range goes into a subquery so build_select keeps writing the bookmark predicate
            # and the order; its placeholders come first in the text, so its values come first
            ranged = f"SELECT * FROM {source} WHERE {column} >= ? AND {column} < ?"
            yield from self._read_query(stream, None, ranged, bookmark, [str(low), str(high)])

    def _chunks(self, stream: OdbcStream, chunk_by: str, bookmark: Mapping[str, Any] | None
                ) -> Iterator[tuple[int, int]]:
        """Key ranges ``[low, high)`` covering the stream from the bookmark on, ``chunk_size`` wide."""
        import pyodbc

        column = self._quote(validate_identifier(chunk_by, self.where(stream)))
        source = (".".join(self._quote(p) for p in validate_identifier(stream.table, self.where(stream)).split("."))
                  if stream.table is not None else f"({stream.query}) src")

        def first_at_or_after(value: Any) -> int | None:
            sql, params = f"SELECT MIN({column}) FROM {source}", []
            if value is not None:
                sql, params = sql + f" WHERE {column} >= ?", [value]
            try:
                cursor = self._connect().cursor()
                (found,) = cursor.execute(sql, params).fetchone()
                cursor.close()
            except pyodbc.Error as exc:
                raise self._error(exc, stream) from None
            if found is None:
                return None
            try:
                return int(found)
            except (TypeError, ValueError):
                raise ConnectorError(f"{self.where(stream)}: chunk_by column {chunk_by!r} holds {found!r}, not "
                                     f"an integer; name an integer key column or remove chunk_by") from None

        # each range starts at a value that exists, so gaps in the key cost one look-up, not empty reads
        low = first_at_or_after(bookmark.get(chunk_by) if bookmark else None)
        while low is not None:
            yield low, low + stream.chunk_size
            low = first_at_or_after(low + stream.chunk_size)

    def _read_query(self, stream: SqlStream, table: str | None, query: str | None,
                    bookmark: Mapping[str, Any] | None, leading_params: Sequence[str]) -> Iterator[pa.Table]:
        import arrow_odbc

        sql, params = build_select(table=table, query=query, bookmark=stream.bookmark, key=stream.key,
                                   bookmark_value=bookmark, quote=self._quote, placeholder=lambda i: "?",
                                   where=self.where(stream))
        parameters = [*leading_params, *(_parameter_text(v) for v in params)]
        encoding = self.settings.encoding
        fetched_as_bytes: set[str] = set()
        try:
            reader = arrow_odbc.read_arrow_batches_from_odbc(
                query=sql, connection_string=self._bulk_connection_string(), password=self._password,
                parameters=parameters or None, batch_size=stream.batch_size,
                max_text_size=self.settings.max_text_size, login_timeout_sec=self.settings.timeout_seconds,
                map_schema=None if _is_utf8(encoding) else _text_as_binary(fetched_as_bytes))
            for batch in reader:
                if batch.num_rows:
                    yield _as_mapping_types(batch, encoding, fetched_as_bytes)
        except arrow_odbc.Error as exc:
            raise self._error(exc, stream) from None

    def _error(self, exc: Exception, stream) -> ConnectorError:
        state = _sqlstate(exc)
        message = str(exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else exc)
        # the password travels apart from the connection string, but a driver may echo what it got
        detail = " ".join(message.split())
        if self._password:
            detail = detail.replace(self._password, "***")
        transient = bool(state) and is_retryable("sqlstate", state)
        if not transient and _CONNECTION_LOST.search(detail):
            transient = True
        return ConnectorError(f"{self.where(stream)}: ODBC error {state or ''}: {detail}", transient=transient)

    def check(self) -> list[str]:
        """Connect with pyodbc; say what is wrong (driver, DSN, server, credentials) if that fails."""
        try:
            self._connect()
        except ConnectorError as exc:
            return [f"{exc}{self._hint(str(exc))}"]
        return []

    def _hint(self, message: str) -> str:
        """What to do about a failed connection, from the driver manager's and driver's own words."""
        import pyodbc

        driver = re.search(r"driver\s*=\s*\{?([^;}]+)", self.settings.connection_string or "", re.IGNORECASE)
        if "Can't open lib" in message or ("IM002" in message and driver):
            name = driver.group(1).strip() if driver else "?"
            return (f" -- the ODBC driver {name!r} is not installed; installed drivers: "
                    f"{', '.join(pyodbc.drivers()) or 'none'} (Debian: apt install odbc-postgresql, "
                    f"odbc-mariadb or libsqliteodbc)")
        if "IM002" in message:
            return (f" -- the DSN {self.settings.dsn!r} is not defined in odbc.ini; defined: "
                    f"{', '.join(pyodbc.dataSources()) or 'none'}")
        if "28000" in message or "28P01" in message or "password authentication failed" in message:
            return " -- the database refused the credentials; check username and password_env"
        if "08001" in message:
            return " -- the database server is not reachable or refused the connection; check Server, Port and Database"
        return ""

    def close(self) -> None:
        """Close the pyodbc connection used for checks and look-ups (readers close with their query)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

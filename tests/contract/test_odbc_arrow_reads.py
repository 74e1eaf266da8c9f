"""The ODBC connector's bulk reads through arrow-odbc, against real PostgreSQL, MariaDB and SQLite.

Types arrive as Arrow types the mapping engine handles, composite bookmarks bind as text and still
compare as their column types, declared code pages decode, chunked reads equal a plain read, a
connection lost mid-read is a transient error, and no message carries the password.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.base import ConnectorError
from connectors.odbc import OdbcConnector, OdbcStream
from mappings.engine import coerce

ROWS = 500


def _pg_odbc(url, database: str | None = None, fetch: int = 100) -> dict:
    return {"connection_string": f"Driver=PostgreSQL Unicode;Server={url.host};Port={url.port or 5432};"
                                 f"Database={database or url.database};UseDeclareFetch=1;Fetch={fetch};CommLog=0",
            "username": url.username}


def _mariadb_odbc(url, extra: str = "") -> dict:
    return {"connection_string": f"Driver=MariaDB Unicode;Server={url.host};Port={url.port or 3306};"
                                 f"Database={url.database};{extra}", "username": url.username}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def typed_source(request, tmp_path):
    """A table of integers, decimals, text and dates in each backend, and ODBC settings to reach it."""
    kind = request.param
    if kind == "sqlite":
        path = tmp_path / "typed.sqlite"
        sa_url, odbc = f"sqlite:///{path}", {"connection_string": f"Driver=SQLite3;Database={path}"}
        timestamp = "TIMESTAMP"
    elif kind == "postgresql":
        db = request.getfixturevalue("pg_database")
        sa_url, odbc, timestamp = db.url.render_as_string(hide_password=False), _pg_odbc(db.url), "TIMESTAMP"
    else:
        db = request.getfixturevalue("mariadb_database")
        sa_url, odbc, timestamp = db.url.render_as_string(hide_password=False), _mariadb_odbc(db.url), "DATETIME"
    engine = create_engine(sa_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE typed (id INTEGER NOT NULL PRIMARY KEY, big BIGINT, "
                          f"code VARCHAR(10) NOT NULL, price DECIMAL(15,4), label CHAR(12), due DATE, "
                          f"changed {timestamp})"))
        conn.execute(text("INSERT INTO typed VALUES (:id, :big, :code, :price, :label, :due, :changed)"), [
            {"id": i, "big": 5_000_000_000 + i, "code": f"C{i % 7}", "price": f"{i}.1250" if i % 5 else None,
             "label": f"L{i}", "due": dt.date(2026, 1, 1) + dt.timedelta(days=i % 40),
             "changed": dt.datetime(2026, 3, 1, 8, 30) + dt.timedelta(minutes=i)} for i in range(ROWS)])
    engine.dispose()
    return kind, odbc


def _stream(**update) -> OdbcStream:
    settings = {"name": "typed", "mapping": "unused.yaml", "table": "typed", "key": ["id"], "batch_size": 64}
    return OdbcStream(**{**settings, **update})


def test_types_arrive_as_arrow_types_the_mapping_engine_handles(typed_source):
    kind, odbc = typed_source
    with OdbcConnector("erp", odbc) as connector:
        batches = list(connector.read(_stream(), None))
    assert all(b.num_rows <= 64 for b in batches) and len(batches) == -(-ROWS // 64)
    table = pa.concat_tables(batches)
    schema = table.schema
    assert pa.types.is_integer(schema.field("id").type)
    assert pa.types.is_integer(schema.field("big").type)
    # the SQLite driver reports DECIMAL columns as text, which the engine's numbers parse
    assert schema.field("price").type == (pa.string() if kind == "sqlite" else pa.float64())
    assert pa.types.is_string(schema.field("code").type)
    assert table["big"].to_pylist()[:2] == [5_000_000_000, 5_000_000_001]
    assert table["price"][0].as_py() is None
    assert table["code"].to_pylist()[:3] == ["C0", "C1", "C2"]
    assert pa.types.is_date(schema.field("due").type)
    assert pa.types.is_timestamp(schema.field("changed").type)
    frame = table.to_pandas()
    due, failed, _ = coerce(frame["due"], "date")
    assert failed is None or not failed.any()
    assert due.iloc[41].date() == dt.date(2026, 1, 2)
    changed, failed, _ = coerce(frame["changed"], "datetime")
    assert failed is None or not failed.any()
    assert changed.iloc[2].to_pydatetime() == dt.datetime(2026, 3, 1, 8, 32)
    price, failed, _ = coerce(frame["price"], "decimal")
    assert failed is None or not failed[price.notna() | frame["price"].notna()].any()
    assert price.iloc[1:3].tolist() == [1.125, 2.125] and pd.isna(price.iloc[0])


def test_composite_bookmark_of_text_and_integer_columns_binds_as_text_and_compares_typed(typed_source):
    _, odbc = typed_source
    stream = _stream(bookmark=["code", "id"])
    with OdbcConnector("erp", odbc) as connector:
        everything = pa.concat_tables(list(connector.read(stream, None)))
        # 9 < 80 as integers but not as text: a text comparison would return C3's ids 10..79 too
        again = pa.concat_tables(list(connector.read(stream, {"code": "C3", "id": 80})))
    rows = list(zip(everything["code"].to_pylist(), everything["id"].to_pylist()))
    assert rows == sorted(rows)
    expected = [r for r in rows if r >= ("C3", 80)]
    assert list(zip(again["code"].to_pylist(), again["id"].to_pylist())) == expected
    assert 0 < len(expected) < ROWS


def test_date_bookmark_from_its_stored_iso_form(typed_source):
    _, odbc = typed_source
    stream = _stream(bookmark=["due", "id"])
    with OdbcConnector("erp", odbc) as connector:
        again = pa.concat_tables(list(connector.read(stream, {"due": "2026-02-05", "id": 0})))
    assert again.num_rows == sum(1 for i in range(ROWS) if i % 40 >= 35)
    assert min(again["due"].to_pylist()) == dt.date(2026, 2, 5)


def test_chunked_read_by_key_range_equals_the_plain_read(mariadb_database):
    engine = create_engine(mariadb_database.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE po_lines (id INTEGER NOT NULL PRIMARY KEY, txt VARCHAR(20))"))
        # gaps in the key: chunks of ids that hold no row must not end the read
        conn.execute(text("INSERT INTO po_lines VALUES (:id, :txt)"),
                     [{"id": i * 3 + (i // 100) * 1000, "txt": f"t{i}"} for i in range(1000)])
    engine.dispose()
    odbc = _mariadb_odbc(mariadb_database.url)
    plain = _stream(table="po_lines", bookmark=["id"], batch_size=128)
    chunked = plain.model_copy(update={"chunk_by": "id", "chunk_size": 250})
    with OdbcConnector("erp", odbc) as connector:
        expected = pa.concat_tables(list(connector.read(plain, None)))
        batches = list(connector.read(chunked, None))
        resumed = pa.concat_tables(list(connector.read(chunked, {"id": 4200})))
    got = pa.concat_tables(batches)
    assert got["id"].to_pylist() == expected["id"].to_pylist()
    assert got["txt"].to_pylist() == expected["txt"].to_pylist()
    assert all(b.num_rows <= 128 for b in batches)
    assert resumed["id"].to_pylist() == [i for i in expected["id"].to_pylist() if i >= 4200]


def test_chunk_by_must_lead_the_order():
    with pytest.raises(ValueError, match="first bookmark column"):
        _stream(bookmark=["code", "id"], chunk_by="id")


def test_declared_code_page_decodes_mariadb_latin1_text(mariadb_database):
    engine = create_engine(mariadb_database.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, txt VARCHAR(40), raw VARBINARY(8)) "
                          "CHARACTER SET latin1"))
        conn.execute(text("INSERT INTO legacy VALUES (1, :t, :raw), (2, NULL, NULL), (3, '', NULL)"),
                     {"t": "Dichtung für Pumpe €", "raw": b"\xfc\x80"})
    engine.dispose()
    stream = _stream(table="legacy")
    # the connection asks for the table's own code page, so the bytes arrive as stored
    settings = {**_mariadb_odbc(mariadb_database.url, "CHARSET=latin1;"), "encoding": "cp1252"}
    with OdbcConnector("erp", settings) as connector:
        table = pa.concat_tables(list(connector.read(stream, None)))
    assert table["txt"].type == pa.string()
    assert table["txt"].to_pylist() == ["Dichtung für Pumpe €", None, ""]
    # binary columns are bytes, not text in the code page
    assert pa.types.is_binary(table["raw"].type) and table["raw"][0].as_py() == b"\xfc\x80"
    # MariaDB's latin1 is cp1252; read as ISO latin-1 the euro sign is the C1 control 0x80
    with OdbcConnector("erp", {**settings, "encoding": "latin-1"}) as connector:
        table = pa.concat_tables(list(connector.read(stream, None)))
    assert table["txt"][0].as_py() == "Dichtung für Pumpe \x80"


@pytest.fixture()
def pg_sql_ascii_database(pg_server_url):
    """A PostgreSQL database that stores bytes as given (SQL_ASCII), holding cp1252 text."""
    server = make_url(pg_server_url)
    name = "threadline_test_" + uuid.uuid4().hex[:10]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
                          f"LC_COLLATE 'C' LC_CTYPE 'C'"))
    url = server.set(database=name)
    legacy = create_engine(url, connect_args={"client_encoding": "LATIN1"})
    with legacy.begin() as conn:
        conn.execute(text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, txt VARCHAR(40))"))
        # sent as LATIN1, stored as those single bytes: 'ü' is 0xFC, as a cp1252 ERP wrote it
        conn.execute(text("INSERT INTO legacy VALUES (1, :t), (2, 'plain')"), {"t": "Dichtung für Pumpe"})
    legacy.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_declared_code_page_decodes_postgresql_sql_ascii_bytes(pg_sql_ascii_database):
    url = pg_sql_ascii_database
    settings = _pg_odbc(url)
    # psqlODBC asks for UTF8, which the server refuses to claim for these bytes; take them as stored
    settings["connection_string"] += ";ConnSettings=SET client_encoding TO 'SQL_ASCII'"
    stream = _stream(table="legacy")
    with OdbcConnector("erp", {**settings, "encoding": "cp1252"}) as connector:
        table = pa.concat_tables(list(connector.read(stream, None)))
    assert table["txt"].to_pylist() == ["Dichtung für Pumpe", "plain"]
    with OdbcConnector("erp", settings) as connector, pytest.raises(ConnectorError) as caught:
        list(connector.read(stream, None))
    assert "invalid UTF-8" in str(caught.value) and not caught.value.transient


def test_connection_terminated_mid_read_is_a_transient_error(pg_database):
    engine = create_engine(pg_database.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 300000) g"))
    stream = _stream(table="big", batch_size=500)
    with OdbcConnector("erp", _pg_odbc(pg_database.url, fetch=500)) as connector:
        batches = connector.read(stream, None)
        first = next(batches)
        assert first.num_rows == 500
        with engine.connect() as conn:
            killed = conn.execute(text("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE datname = :db AND pid <> pg_backend_pid()) t"),
                                  {"db": pg_database.name}).scalar()
        assert killed >= 1
        with pytest.raises(ConnectorError) as caught:
            for _ in batches:
                pass
    engine.dispose()
    assert caught.value.transient, str(caught.value)
    assert "source 'erp', stream 'typed'" in str(caught.value)


def test_postgresql_reads_through_a_cursor_even_when_the_string_does_not_ask(pg_database):
    engine = create_engine(pg_database.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 100000) g"))
    settings = _pg_odbc(pg_database.url)
    settings["connection_string"] = settings["connection_string"].replace("UseDeclareFetch=1;", "")
    with OdbcConnector("erp", settings) as connector:
        batches = connector.read(_stream(table="big", batch_size=1000), None)
        assert next(batches).num_rows == 1000
        with engine.connect() as conn:
            reader_queries = conn.execute(text("SELECT query FROM pg_stat_activity WHERE datname = :db "
                                               "AND pid <> pg_backend_pid()"), {"db": pg_database.name}).scalars()
            # psqlODBC without a cursor would have sent one SELECT and buffered all 100,000 rows
            # psqlODBC may send a savepoint ahead of the FETCH in the same statement text
            assert any(re.search(r"\bfetch \d+ in\b", q.lower()) for q in reader_queries)
        assert sum(b.num_rows for b in batches) == 99_000
    engine.dispose()


def test_a_rejected_password_is_fatal_and_never_shown(mariadb_database, monkeypatch):
    secret = "S3cret-" + uuid.uuid4().hex
    monkeypatch.setenv("THREADLINE_TEST_ODBC_PASSWORD", secret)
    user = "tl_" + uuid.uuid4().hex[:8]
    engine = create_engine(mariadb_database.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'another-password'"))
    try:
        settings = {**_mariadb_odbc(mariadb_database.url), "username": user,
                    "password_env": "THREADLINE_TEST_ODBC_PASSWORD"}
        with OdbcConnector("erp", settings) as connector:
            problems = connector.check()
            with pytest.raises(ConnectorError) as caught:
                list(connector.read(_stream(), None))
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP USER '{user}'@'%'"))
        engine.dispose()
    assert problems and "28000" in problems[0] and secret not in problems[0]
    assert "28000" in str(caught.value) and secret not in str(caught.value)
    assert not caught.value.transient

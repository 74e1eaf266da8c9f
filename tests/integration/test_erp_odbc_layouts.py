"""Real JD Edwards and Maximo purchasing layouts, extracted over ODBC from PostgreSQL, MariaDB and SQLite.

Each test builds one layout in one backend (column names and types from the real-world catalogues,
rows from ``tests/erp_layouts.py``), writes a threadline.yaml with an ``odbc`` source naming the
backend's Debian ODBC driver, and runs the real pipeline into a SQLite warehouse. The warehouse must
then equal the source: row counts, amount totals computed by SQL on the source, non-ASCII text
(MariaDB holds it in latin1 tables, PostgreSQL in a SQL_ASCII database as cp1252 bytes, and the
source declares cp1252), and the planted bad rows quarantined with their reason and nothing else.
A second run, after rows at the bookmark tie change and new rows arrive, reads only rows at or
after the bookmark and leaves the warehouse equal to the source.

JD Edwards runs with 100,000 PO lines on every backend; Maximo with 20,000, which goes through the
same code paths and keeps the whole file near 75 seconds on two cores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.integration.commands import mappings_check, write_config
from tests.servers import mariadb_reader_database, run_and_dispose
from tests import erp_layouts
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

PASSWORD_ENV = "TL_LAYOUTS_ODBC_PASSWORD"


@dataclass
class Layout:
    """One ERP layout: how to build it, the streams threadline reads and how to check the PO lines."""

    name: str
    n_lines: int
    source_name: str
    streams: list[dict]
    line_table: str
    #: the PO line's source key columns, in the order the spec joins them
    line_key: list[str]
    #: SQL expressions (valid in every backend) for the canonical quantity and unit price, and the text column
    qty_sql: str
    price_sql: str
    description: str
    #: the planted bad lines: how to find them in the source, the field and reason they are quarantined for
    bad_where: str
    bad_field: str
    bad_reason: str
    #: the bookmark columns of the po_lines stream
    line_bookmark: list[str]


JDE = Layout(
    name="jde", n_lines=100_000, source_name="jde",
    streams=[
        {"name": "purchase_orders", "mapping": "demo_jde/F4301.yaml",
         # JDE keeps no header status: it is the least advanced status of the order's live lines
         "query": ("SELECT h.*, COALESCE((SELECT MIN(d.PDLTTR) FROM F4311 d WHERE d.PDKCOO = h.PHKCOO "
                   "AND d.PDDOCO = h.PHDOCO AND d.PDDCTO = h.PHDCTO AND d.PDSFXO = h.PHSFXO "
                   "AND d.PDLTTR <> '980'), '980') AS HDLTTR FROM F4301 h"),
         "key": ["PHKCOO", "PHDOCO", "PHDCTO", "PHSFXO"], "bookmark": ["PHUPMJ", "PHTDAY"]},
        {"name": "po_lines", "mapping": "demo_jde/F4311.yaml", "table": "F4311",
         "key": ["PDKCOO", "PDDOCO", "PDDCTO", "PDSFXO", "PDLNID"], "bookmark": ["PDUPMJ", "PDTDAY"]},
        {"name": "receipts", "mapping": "demo_jde/F43121_receipts.yaml",
         "query": "SELECT * FROM F43121 WHERE PRMATC = '1'",
         "key": ["PRDCT", "PRDOC", "PRNLIN"], "bookmark": ["PRUPMJ", "PRTDAY"]},
    ],
    line_table="F4311", line_key=["PDKCOO", "PDDOCO", "PDDCTO", "PDSFXO", "PDLNID"],
    qty_sql="PDUORG / 100.0", price_sql="PDPRRC / 10000.0", description="PDDSC1",
    bad_where="PDPDDJ = 126400", bad_field=erp_layouts.JDE_BAD_FIELD, bad_reason=erp_layouts.JDE_BAD_REASON,
    line_bookmark=["PDUPMJ", "PDTDAY"],
)

MAXIMO = Layout(
    name="maximo", n_lines=20_000, source_name="maximo",
    streams=[
        {"name": "purchase_orders", "mapping": "maximo/PO.yaml", "table": "PO",
         "key": ["ORGID", "PONUM"], "bookmark": ["CHANGEDATE", "PONUM"]},
        {"name": "po_lines", "mapping": "maximo/POLINE.yaml", "table": "POLINE",
         "key": ["ORGID", "POLINEID"], "bookmark": ["ENTERDATE", "POLINEID"]},
        {"name": "receipts", "mapping": "maximo/MATRECTRANS.yaml",
         "query": "SELECT * FROM MATRECTRANS WHERE ISSUETYPE = 'RECEIPT'",
         "key": ["SITEID", "MATRECTRANSID"], "bookmark": ["TRANSDATE", "MATRECTRANSID"]},
    ],
    line_table="POLINE", line_key=["ORGID", "PONUM", "POLINENUM"],
    qty_sql="ORDERQTY", price_sql="UNITCOST", description="DESCRIPTION",
    bad_where="ORDERQTY IS NULL", bad_field=erp_layouts.MAXIMO_BAD_FIELD, bad_reason=erp_layouts.MAXIMO_BAD_REASON,
    line_bookmark=["ENTERDATE", "POLINEID"],
)


@dataclass
class Source(erp_layouts.LayoutDatabase):
    """A layout loaded into one backend (see ``LayoutDatabase``) and the layout it is."""

    layout: Layout = None
    extra_names = ("HDLTTR",)


def _scratch_name() -> str:
    return "tl_layouts_" + uuid.uuid4().hex[:10]


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "mariadb", "sqlite"])
def backend(request):
    return request.param


@pytest.fixture(params=[JDE, MAXIMO], ids=lambda layout: layout.name)
def source(request, backend, realworld, tmp_path, monkeypatch) -> Source:
    """The layout in a scratch database of the backend (dropped afterwards)."""
    layout: Layout = request.param
    build = erp_layouts.jde_tables if layout.name == "jde" else erp_layouts.maximo_tables
    tables = build(realworld, layout.n_lines)
    name = _scratch_name()
    cleanup = []
    if backend == "sqlite":
        path = tmp_path / f"{name}.sqlite"
        erp_layouts.load_sqlite(path, tables)
        engine = create_engine(f"sqlite:///{path}")
        odbc = {"connection_string": f"Driver=SQLite3;Database={path}"}
    elif backend == "postgresql":
        server = make_url(request.getfixturevalue("pg_server_url"))
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        # a legacy database: SQL_ASCII stores the bytes the ERP wrote, here cp1252
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
                              f"LC_COLLATE 'C' LC_CTYPE 'C'"))
        cleanup.append(lambda: run_and_dispose(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        url = server.set(database=name)
        erp_layouts.load_postgres(f"host={url.host} port={url.port or 5432} user={url.username} dbname={name}"
                                  + (f" password={url.password}" if url.password else ""), tables, "cp1252")
        engine = create_engine(url, connect_args={"client_encoding": "WIN1252"})
        # a cursor read (UseDeclareFetch) in steps of 10,000 rows, not psqlODBC's default 100; psqlODBC
        # asks for UTF8, which the server cannot vouch for: take the bytes as stored, decode them as cp1252
        odbc = {"connection_string": f"Driver=PostgreSQL Unicode;Server={url.host};Port={url.port or 5432};"
                                     f"Database={name};UseDeclareFetch=1;Fetch=10000;"
                                     f"ConnSettings=SET client_encoding TO 'SQL_ASCII'",
                "username": url.username, "encoding": "cp1252"}
    else:
        server = make_url(request.getfixturevalue("mariadb_server_url"))
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        # a read-only user with a password, which the source reads from the environment
        user, password, drop = mariadb_reader_database(admin, name)
        cleanup.append(drop)
        url = server.set(database=name)
        erp_layouts.load_mariadb({"host": url.host, "port": url.port or 3306, "user": url.username,
                                  "password": url.password or "", "database": name}, tables, tmp_path,
                                 charset="latin1")
        engine = create_engine(url.set(query={"charset": "utf8mb4"}))
        monkeypatch.setenv(PASSWORD_ENV, password)
        # the connection asks for the tables' own code page; the source declares it as cp1252
        odbc = {"connection_string": f"Driver=MariaDB Unicode;Server={url.host};Port={url.port or 3306};"
                                     f"Database={name};CHARSET=latin1",
                "username": user, "password_env": PASSWORD_ENV, "encoding": "cp1252"}
    try:
        yield Source(backend, odbc, engine, tables, layout)
    finally:
        engine.dispose()
        for step in cleanup:
            step()


def _write_config(tmp_path: Path, source: Source) -> Path:
    """threadline.yaml for this source: an ``odbc`` source and a SQLite warehouse in tmp_path."""
    streams = [dict(s, batch_size=25_000, **({"query": source.sql(s["query"])} if "query" in s else {}))
               for s in source.layout.streams]
    return write_config(tmp_path, [{"name": source.layout.source_name, "kind": "odbc",
                                    "role": "erp" if source.layout.name == "jde" else "cmms",
                                    "connection": source.odbc, "streams": streams}],
                        sites=[{"id": "NORTH"}, {"id": "BEDFORD"}, {"id": "NASHUA"}])


def _source_keys(source: Source, where: str = "") -> pd.DataFrame:
    """PO lines of the source as the spec keys them (CHAR padding stripped, parts joined with '|'),
    with quantity, price and description; computed from a plain SELECT, not by the mapping engine."""
    layout = source.layout
    frame = source.frame(f"SELECT {', '.join(layout.line_key)}, {layout.qty_sql} AS qty, {layout.price_sql} AS price, "
                         f"{layout.description} AS description FROM {layout.line_table} {where}")
    parts = [frame[k].astype(str).str.strip() for k in layout.line_key]
    key = parts[0]
    for part in parts[1:]:
        key = key + "|" + part
    return pd.DataFrame({"source_key": key, "qty": frame["qty"].astype(float), "price": frame["price"].astype(float),
                         "description": frame["description"].str.strip()})


def _bookmark_predicate(columns: list[str], values: list) -> str:
    """``(c1, c2) >= (v1, v2)`` for the check queries, with literals."""
    def literal(v):
        return str(v) if isinstance(v, (int, float)) else "'" + str(v).replace("T", " ") + "'"
    first, second = columns
    return (f"({first} > {literal(values[0])} OR ({first} = {literal(values[0])} "
            f"AND {second} >= {literal(values[1])}))")


def _run(config_path: Path):
    """One incremental sync, as ``threadline sync`` runs it: extract, land, map, validate, load."""
    config = load_config(config_path)
    result = run_pipeline(config, command="sync", reconcile=False)
    assert result.status == "succeeded", result.error
    return config, result


def test_the_layouts_specs_pass_mappings_check(tmp_path):
    """The demo JDE specs and the shipped Maximo specs the layouts use, through the real command line."""
    sources = [{"name": layout.source_name, "kind": "odbc", "role": "erp",
                "connection": {"connection_string": f"Driver=SQLite3;Database={tmp_path / 'unused.sqlite'}"},
                "streams": layout.streams} for layout in (JDE, MAXIMO)]
    results = mappings_check(write_config(tmp_path, sources))
    assert {(r["source"], r["stream"]): (r.get("entity"), r["problems"]) for r in results} == {
        (source, stream): (entity, []) for source in ("jde", "maximo") for stream, entity in
        (("purchase_orders", "purchase_order"), ("po_lines", "po_line"), ("receipts", "receipt"))}


def test_layout_extracts_completely_and_incrementally(source: Source, tmp_path):
    layout = source.layout
    config_path = _write_config(tmp_path, source)

    config, first = _run(config_path)
    streams = {s.stream: s for s in first.streams}
    warehouse = open_warehouse(config.warehouse.resolved_url())
    try:
        # every row the stream's SQL selects is read, landed, and loaded or quarantined
        expected_reads = {s["name"]: source.scalar(f"SELECT COUNT(*) FROM ({s['query']}) counted" if "query" in s
                                                   else f"SELECT COUNT(*) FROM {s['table']}")
                          for s in layout.streams}
        assert {name: s.rows_read for name, s in streams.items()} == expected_reads
        assert expected_reads["po_lines"] >= layout.n_lines
        planted = _source_keys(source, f"WHERE {layout.bad_where}")
        assert len(planted) == (erp_layouts.JDE_PLANTED_BAD_LINES if layout.name == "jde"
                                else erp_layouts.MAXIMO_PLANTED_BAD_LINES)
        assert streams["po_lines"].rows_quarantined == len(planted)
        assert all(s.rows_quarantined == 0 for name, s in streams.items() if name != "po_lines")

        quarantined = warehouse.read_table(schema.quarantine)
        assert sorted(quarantined["source_key"]) == sorted(planted["source_key"])
        assert set(quarantined["field"]) == {layout.bad_field}
        assert set(quarantined["reason"]) == {layout.bad_reason}

        counts = {entity: warehouse.count(schema.CANONICAL_TABLES[entity])
                  for entity in ("purchase_order", "po_line", "receipt")}
        assert counts == {"purchase_order": expected_reads["purchase_orders"],
                          "po_line": expected_reads["po_lines"] - len(planted),
                          "receipt": expected_reads["receipts"]}

        loaded = _assert_lines_equal_source(source, warehouse, planted)

        # control totals by SQL on the source: quantity and ordered amount of the loaded lines
        totals = source.frame(f"SELECT SUM({layout.qty_sql}) AS qty, SUM({layout.qty_sql} * {layout.price_sql}) "
                              f"AS amount FROM {layout.line_table} WHERE NOT ({layout.bad_where})")
        assert loaded["qty_ordered"].sum() == pytest.approx(float(totals.iloc[0, 0]), rel=1e-12)
        assert (loaded["qty_ordered"] * loaded["unit_price"]).sum() == pytest.approx(float(totals.iloc[0, 1]),
                                                                                     rel=1e-9)
        receipt_qty = source.scalar("SELECT SUM(PRUREC) / 100.0 FROM F43121 WHERE PRMATC = '1'"
                                    if layout.name == "jde" else
                                    "SELECT SUM(QUANTITY) FROM MATRECTRANS WHERE ISSUETYPE = 'RECEIPT'")
        assert warehouse.read_entity("receipt", ["qty"])["qty"].sum() == pytest.approx(float(receipt_qty), rel=1e-12)

        # non-ASCII text arrives exactly as written
        assert set(loaded["description"]) == {d.strip() for d in erp_layouts.DESCRIPTIONS}

        # second run: rows at the bookmark tie change, new rows arrive at and after the tie
        bookmark = warehouse.get_bookmark(layout.source_name, "po_lines")
        assert list(bookmark) == layout.line_bookmark
        changed_keys = _change_source(source, [bookmark[c] for c in layout.line_bookmark])
        at_or_after = source.scalar(f"SELECT COUNT(*) FROM {layout.line_table} WHERE "
                                    + _bookmark_predicate(layout.line_bookmark,
                                                          [bookmark[c] for c in layout.line_bookmark]))
        _, second = _run(config_path)
        lines = next(s for s in second.streams if s.stream == "po_lines")
        assert lines.rows_read == at_or_after
        assert 0 < at_or_after < expected_reads["po_lines"] // 10
        loaded_after = _assert_lines_equal_source(source, warehouse, planted)
        # the re-priced lines at the tie carry the new price (equal to the source's, checked above)
        assert changed_keys
        assert (loaded_after.loc[changed_keys, "unit_price"] - loaded.loc[changed_keys, "unit_price"]).round(6).isin(
            [0.0001 if layout.name == "jde" else 1.0]).all()
    finally:
        warehouse.dispose()


def _assert_lines_equal_source(source: Source, warehouse, planted: pd.DataFrame) -> pd.DataFrame:
    """The warehouse's PO lines are the source's (less the planted bad ones): keys, prices, text."""
    truth = _source_keys(source)
    truth = truth[~truth["source_key"].isin(planted["source_key"])].set_index("source_key").sort_index()
    loaded = warehouse.read_entity("po_line", ["source_key", "qty_ordered", "unit_price", "description"])
    indexed = loaded.set_index("source_key").sort_index()
    assert indexed.index.equals(truth.index)
    assert np.allclose(indexed["unit_price"].to_numpy(float), truth["price"].to_numpy(float), rtol=0, atol=1e-9)
    assert np.allclose(indexed["qty_ordered"].to_numpy(float), truth["qty"].to_numpy(float), rtol=0, atol=1e-9)
    assert (indexed["description"] == truth["description"]).all()
    return indexed


def _change_source(source: Source, tie: list) -> list[str]:
    """Change prices of rows at the bookmark tie and insert rows at and after it; returns the source
    keys whose price changed."""
    layout = source.layout
    if layout.name == "jde":
        day, time = int(tie[0]), int(tie[1])
        at_tie = _source_keys(source, f"WHERE PDUPMJ = {day} AND PDTDAY = {time} AND NOT ({layout.bad_where})")
        columns = [c.name for c in source.tables["F4311"].columns]

        def copy(offset: int, stamp: tuple[int, int], where: str) -> str:
            values = [f"PDDOCO + {offset}" if c == "PDDOCO" else str(stamp[0]) if c == "PDUPMJ"
                      else str(stamp[1]) if c == "PDTDAY" else c for c in columns]
            return f"INSERT INTO F4311 ({', '.join(columns)}) SELECT {', '.join(values)} FROM F4311 WHERE {where}"

        source.execute(
            # the same batch job second: a re-price of the lines already read (at least once)
            f"UPDATE F4311 SET PDPRRC = PDPRRC + 1 WHERE PDUPMJ = {day} AND PDTDAY = {time}",
            copy(10_000_000, (day, time), f"PDDOCO < 4700021 AND NOT ({layout.bad_where})"),
            copy(20_000_000, (day + 1, 60000), f"PDDOCO < 4700011 AND NOT ({layout.bad_where})"),
        )
        return list(at_tie["source_key"])
    enter_date = str(tie[0]).replace("T", " ")
    line_id = int(tie[1])
    columns = [c.name for c in source.tables["POLINE"].columns]

    def copy(offset: int, enter: str, where: str) -> str:
        values = [f"{c} + {offset}" if c in ("POLINEID", "POLINENUM") else f"'{enter}'" if c == "ENTERDATE"
                  else c for c in columns]
        return f"INSERT INTO POLINE ({', '.join(columns)}) SELECT {', '.join(values)} FROM POLINE WHERE {where}"

    at_tie = _source_keys(source, f"WHERE POLINEID = {line_id}")
    source.execute(
        f"UPDATE POLINE SET UNITCOST = UNITCOST + 1 WHERE POLINEID = {line_id}",
        # lines entered in the same second as the bookmark's, with higher ids, and a day later
        copy(1_000_000, enter_date, "POLINEID <= 20 AND ORDERQTY IS NOT NULL"),
        copy(2_000_000, enter_date[:10] + " 23:59:59", "POLINEID <= 10 AND ORDERQTY IS NOT NULL"),
    )
    return list(at_tie["source_key"])

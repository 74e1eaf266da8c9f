"""Shipped work-order specs on real layouts: Maximo work management over ODBC from PostgreSQL and
MariaDB, JD Edwards manufacturing over ODBC from SQLite.

The layouts come from ``tests/cmms_layouts.py`` (column names and types from the real-world
catalogues); each test writes a threadline.yaml with an ``odbc`` source naming the backend's Debian
ODBC driver and the shipped specs (``maximo/...``, ``jde/...``), runs the real pipeline into a
SQLite warehouse and checks the warehouse against plain SQL on the source: counts, the planted bad
rows quarantined with their reasons, the WO-PO link fields, the legacy transforms, and (Maximo) a
second run that reads only rows at or after the bookmarks.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from tests.integration.commands import mappings_check, write_config
from tests.servers import mariadb_reader_database, run_and_dispose
from tests import cmms_layouts, erp_layouts
from tests.integration import readback
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema

PASSWORD_ENV = "TL_CMMS_ODBC_PASSWORD"
SITES = [{"id": "BEDFORD"}, {"id": "NASHUA"}, {"id": "P100"}, {"id": "P110"}]
TASKS_QUERY = ("SELECT t.*, s.VENDOR AS SERVICEVENDOR, s.ITEMNUM AS SERVICEITEM, s.ITEMQTY AS SERVICEQTY "
               "FROM WORKORDER t LEFT JOIN WPSERVICE s ON s.SITEID = t.SITEID AND s.WONUM = t.WONUM")
MAXIMO_STREAMS = [
    {"name": "work_orders", "mapping": "maximo/WORKORDER.yaml", "table": "WORKORDER", "entity": "work_order",
     "key": ["SITEID", "WONUM"], "bookmark": ["CHANGEDATE", "WONUM"]},
    {"name": "tasks", "mapping": "maximo/TASKS.yaml", "query": TASKS_QUERY, "entity": "wo_operation",
     "key": ["SITEID", "WONUM"], "bookmark": ["CHANGEDATE", "WONUM"]},
    {"name": "material_issues", "mapping": "maximo/MATUSETRANS.yaml", "table": "MATUSETRANS",
     "entity": "material_issue", "key": ["SITEID", "MATUSETRANSID"], "bookmark": ["TRANSDATE", "MATUSETRANSID"]},
    {"name": "labour", "mapping": "maximo/LABTRANS.yaml", "table": "LABTRANS", "entity": "labour_entry",
     "key": ["SITEID", "LABTRANSID"], "bookmark": ["TRANSDATE", "LABTRANSID"]},
    {"name": "service_receipts", "mapping": "maximo/SERVRECTRANS.yaml", "table": "SERVRECTRANS", "entity": "receipt",
     "key": ["SITEID", "SERVRECTRANSID"], "bookmark": ["TRANSDATE", "SERVRECTRANSID"]},
]
JDE_STREAMS = [
    {"name": "work_orders", "mapping": "jde/F4801.yaml", "table": "F4801", "entity": "work_order",
     "key": ["WADCTO", "WADOCO"], "bookmark": ["WAUPMJ", "WATDAY"]},
    {"name": "operations", "mapping": "jde/F3112.yaml", "table": "F3112", "entity": "wo_operation",
     "key": ["WLDCTO", "WLDOCO", "WLOPSQ"], "bookmark": ["WLUPMJ", "WLTDAY"]},
    {"name": "material_issues", "mapping": "jde/F3111.yaml", "table": "F3111", "entity": "material_issue",
     "key": ["WMUKID"], "bookmark": ["WMUPMJ", "WMTDAY"]},
    {"name": "labour", "mapping": "jde/F31122.yaml", "table": "F31122", "entity": "labour_entry",
     "key": ["WTUKID"], "bookmark": ["WTUPMJ", "WTTDAY"]},
    {"name": "po_lines", "mapping": "jde/F4311.yaml", "table": "F4311", "entity": "po_line",
     "key": ["PDKCOO", "PDDOCO", "PDDCTO", "PDSFXO", "PDLNID"], "bookmark": ["PDUPMJ", "PDTDAY"]},
]


def _stream_settings(streams: list[dict], sql) -> list[dict]:
    return [{k: (sql(v) if k == "query" else v) for k, v in s.items() if k != "entity"} for s in streams]


def _write_config(tmp_path: Path, name: str, connection: dict, streams: list[dict]) -> Path:
    return write_config(tmp_path, [{"name": name, "kind": "odbc", "role": "cmms" if name == "maximo" else "erp",
                                    "connection": connection, "streams": streams}], sites=SITES)


def _run(config_path: Path):
    config = load_config(config_path)
    result = run_pipeline(config, command="sync", reconcile=False)
    assert result.status == "succeeded", result.error
    return config.warehouse.resolved_url(), {s.stream: s for s in result.streams}


def _quarantined(url: str, source: str) -> pd.DataFrame:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(select(schema.quarantine.c.stream, schema.quarantine.c.source_key,
                                      schema.quarantine.c.field, schema.quarantine.c.reason)
                               .where(schema.quarantine.c.source == source), conn)
    finally:
        engine.dispose()


def _canonical(url: str, entity: str, source: str, *columns: str) -> pd.DataFrame:
    rows = readback.canonical_rows(url, entity, source, *columns)
    return pd.DataFrame([(k, *v) for k, v in rows.items()], columns=["source_key", *columns]).set_index("source_key")


def _key_index(frame: pd.DataFrame, columns: list[str]) -> pd.Index:
    """Source keys as the specs build them, row by row: each part stripped of padding, joined with '|'
    (numbers read back as floats lose their .0)."""
    parts = [frame[c].astype(str).str.strip().str.replace(r"\.0$", "", regex=True) for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + "|" + part
    return pd.Index(key)


def _keys(frame: pd.DataFrame, columns: list[str], prefix: str = "") -> list[str]:
    """The sorted source keys of ``frame``'s rows, each after ``prefix``."""
    return sorted(prefix + key for key in _key_index(frame, columns))


# ------------------------------------------------------------------ Maximo over PostgreSQL and MariaDB


class MaximoSource(erp_layouts.LayoutDatabase):
    """The Maximo work layout loaded into one backend; the tasks stream's query adds the service columns."""

    extra_names = ("SERVICEVENDOR", "SERVICEITEM", "SERVICEQTY")


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "mariadb"])
def maximo(request, realworld, tmp_path, monkeypatch) -> MaximoSource:
    """The Maximo work-management layout in a scratch database of the backend (dropped afterwards)."""
    backend = request.param
    tables = cmms_layouts.maximo_work_tables(realworld)
    name = "tl_cmms_" + uuid.uuid4().hex[:10]
    if backend == "postgresql":
        server = make_url(request.getfixturevalue("pg_server_url"))
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"))
        cleanup = lambda: run_and_dispose(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # noqa: E731
        url = server.set(database=name)
        erp_layouts.load_postgres(f"host={url.host} port={url.port or 5432} user={url.username} dbname={name}"
                                  + (f" password={url.password}" if url.password else ""), tables)
        engine = create_engine(url)
        odbc = {"connection_string": f"Driver=PostgreSQL Unicode;Server={url.host};Port={url.port or 5432};"
                                     f"Database={name};UseDeclareFetch=1;Fetch=10000",
                "username": url.username}
    else:
        server = make_url(request.getfixturevalue("mariadb_server_url"))
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        # a read-only user with a password, which the source reads from the environment
        user, password, cleanup = mariadb_reader_database(admin, name)
        url = server.set(database=name)
        erp_layouts.load_mariadb({"host": url.host, "port": url.port or 3306, "user": url.username,
                                  "password": url.password or "", "database": name}, tables, tmp_path,
                                 charset="utf8mb4")
        engine = create_engine(url.set(query={"charset": "utf8mb4"}))
        monkeypatch.setenv(PASSWORD_ENV, password)
        odbc = {"connection_string": f"Driver=MariaDB Unicode;Server={url.host};Port={url.port or 3306};"
                                     f"Database={name};CHARSET=utf8mb4",
                "username": user, "password_env": PASSWORD_ENV}
    try:
        yield MaximoSource(backend, odbc, engine, tables)
    finally:
        engine.dispose()
        cleanup()


def _at_or_after(source: MaximoSource, stream: dict, bookmark: dict) -> int:
    """Rows of a stream's table at or after a stored bookmark, counted by SQL with literals."""
    (first, second), values = stream["bookmark"], [bookmark[c] for c in stream["bookmark"]]

    def literal(value):
        return str(value) if isinstance(value, (int, float)) else "'" + str(value).replace("T", " ") + "'"
    table = stream.get("table") or "WORKORDER"
    return source.scalar(f"SELECT COUNT(*) FROM {table} WHERE {first} > {literal(values[0])} OR "
                         f"({first} = {literal(values[0])} AND {second} >= {literal(values[1])})")


def test_maximo_work_layout_over_odbc(maximo: MaximoSource, tmp_path):
    source = maximo
    config_path = _write_config(tmp_path, "maximo", source.odbc, _stream_settings(MAXIMO_STREAMS, source.sql))
    url, streams = _run(config_path)

    n_wos = source.scalar("SELECT COUNT(*) FROM WORKORDER WHERE ISTASK = 'N'")
    n_tasks = source.scalar("SELECT COUNT(*) FROM WORKORDER WHERE ISTASK = 'Y'")
    expected = {"work_orders": (n_wos + n_tasks, n_tasks), "tasks": (n_wos + n_tasks, n_wos),
                "material_issues": (source.scalar("SELECT COUNT(*) FROM MATUSETRANS"), 0),
                "labour": (source.scalar("SELECT COUNT(*) FROM LABTRANS"), 0),
                "service_receipts": (source.scalar("SELECT COUNT(*) FROM SERVRECTRANS"), 0)}
    assert n_wos == 3000 and n_tasks > 1000
    planted = cmms_layouts.MAXIMO_PLANTED
    # every row read is loaded, quarantined or (the other kind of WORKORDER row) skipped
    assert {name: (s.rows_read, s.rows_skipped, s.rows_quarantined, s.rows_loaded) for name, s in streams.items()} == {
        name: (read, skipped, planted[name].count if name in planted else 0,
               read - skipped - (planted[name].count if name in planted else 0))
        for name, (read, skipped) in expected.items()}

    # the planted rows, found by plain SQL, are what is quarantined, each for its reason
    quarantined = _quarantined(url, "maximo")
    tables = {s["name"]: s.get("table") for s in MAXIMO_STREAMS}
    key_columns = {"work_orders": ["SITEID", "WONUM"], "material_issues": ["SITEID", "MATUSETRANSID"],
                   "labour": ["SITEID", "LABTRANSID"], "service_receipts": ["SITEID", "SERVRECTRANSID"]}
    assert set(quarantined["stream"]) == set(planted)
    for stream, bad in planted.items():
        rows = quarantined[quarantined["stream"] == stream]
        found = source.frame(f"SELECT * FROM {tables[stream]} WHERE {bad.where}")
        prefix = "SERVREC|" if stream == "service_receipts" else ""
        assert sorted(rows["source_key"]) == _keys(found, key_columns[stream], prefix) and len(found) == bad.count
        assert set(rows["field"]) == {bad.field}
        assert all(reason.startswith(bad.reason) for reason in rows["reason"]), set(rows["reason"])

    # the WO-PO link fields arrive as the source holds them
    work_orders = _canonical(url, "work_order", "maximo", "status", "source_status", "po_ref", "po_line_ref",
                             "estimate_labour", "estimate_material", "estimate_outside")
    truth = source.frame("SELECT SITEID, WONUM, GENERATEDFORPO, GENFORPOLINEID FROM WORKORDER "
                         "WHERE ISTASK = 'N' AND GENERATEDFORPO IS NOT NULL AND STATUS <> 'DRAFT'")
    truth.index = _key_index(truth, ["SITEID", "WONUM"])
    linked = work_orders.dropna(subset=["po_ref"])
    assert len(truth) > 100 and sorted(linked.index) == sorted(truth.index)
    assert (linked.loc[truth.index, "po_ref"] == truth["GENERATEDFORPO"]).all()
    assert (linked.loc[truth.index, "po_line_ref"] == truth["GENFORPOLINEID"].astype("int64").astype(str)).all()
    issues = _canonical(url, "material_issue", "maximo", "po_ref", "po_line_ref", "qty")
    direct = source.frame("SELECT SITEID, MATUSETRANSID, PONUM, POLINENUM FROM MATUSETRANS "
                          "WHERE PONUM IS NOT NULL AND ITEMNUM IS NOT NULL")
    direct.index = _key_index(direct, ["SITEID", "MATUSETRANSID"])
    assert len(direct) > 50 and sorted(issues.dropna(subset=["po_ref"]).index) == sorted(direct.index)
    assert (issues.loc[direct.index, "po_ref"] == direct["PONUM"]).all()
    assert (issues.loc[direct.index, "po_line_ref"] == direct["POLINENUM"].astype("int64").astype(str)).all()
    # issues are negative in Maximo, returns positive: the issued quantity is the negation
    assert issues["qty"].sum() == pytest.approx(-float(source.scalar(
        "SELECT SUM(QUANTITY) FROM MATUSETRANS WHERE ITEMNUM IS NOT NULL")), rel=1e-12)

    # statuses map to the canonical set, the source code kept beside; estimates add up
    assert set(map(tuple, work_orders[["source_status", "status"]].drop_duplicates().to_numpy())) == {
        ("WAPPR", "planned"), ("APPR", "released"), ("INPRG", "in_progress"), ("COMP", "completed"),
        ("CLOSE", "closed"), ("CAN", "cancelled")}
    estimates = source.frame("SELECT SUM(ESTLABCOST) AS lab, SUM(ESTMATCOST) AS mat, SUM(ESTSERVCOST) AS serv "
                             "FROM WORKORDER WHERE ISTASK = 'N' AND STATUS <> 'DRAFT'").iloc[0]
    assert [work_orders[c].sum() for c in ("estimate_labour", "estimate_material", "estimate_outside")] == \
        pytest.approx([float(estimates[c]) for c in ("lab", "mat", "serv")], rel=1e-12)

    # tasks are operations of their parent; those with a planned service are outside processing
    operations = _canonical(url, "wo_operation", "maximo", "wo_number", "op_seq", "is_outside_processing",
                            "expected_supplier", "process")
    services = source.frame("SELECT t.SITEID, t.PARENT, t.TASKID, s.VENDOR FROM WORKORDER t "
                            "JOIN WPSERVICE s ON s.SITEID = t.SITEID AND s.WONUM = t.WONUM")
    services.index = _key_index(services, ["SITEID", "PARENT", "TASKID"])
    outside = operations[operations["is_outside_processing"].astype(bool)]
    assert len(services) > 100 and sorted(outside.index) == sorted(services.index)
    assert (outside.loc[services.index, "expected_supplier"] == services["VENDOR"]).all()
    assert set(outside["process"]) == {"heat_treat", "plating", "ndt", "calibration", "repair"}
    assert set(operations["op_seq"]) == {"10", "20", "30", "40"}

    # second run: work orders change status after the bookmark, new issues arrive; only those
    # (and the rows at the bookmark's tie, read again at least once) are read
    bookmarks = {s["name"]: readback.stored_bookmark(url, "maximo", s["name"]) for s in MAXIMO_STREAMS}
    last_change = pd.Timestamp(bookmarks["work_orders"]["CHANGEDATE"]) + pd.Timedelta(days=1)
    changed = list(source.frame("SELECT SITEID, WONUM FROM WORKORDER WHERE ISTASK = 'N' AND STATUS = 'INPRG' "
                                "ORDER BY WONUM").head(5).itertuples(index=False, name=None))
    last_issue = pd.Timestamp(bookmarks["material_issues"]["TRANSDATE"]) + pd.Timedelta(hours=1)
    issue_columns = [c.name for c in source.tables["MATUSETRANS"].columns]
    copied = ["MATUSETRANSID + 1000000" if c == "MATUSETRANSID" else f"'{last_issue:%Y-%m-%d %H:%M:%S}'"
              if c in ("TRANSDATE", "ACTUALDATE") else c for c in issue_columns]
    source.execute(
        f"UPDATE WORKORDER SET STATUS = 'CLOSE', CHANGEDATE = '{last_change:%Y-%m-%d %H:%M:%S}' WHERE ISTASK = 'N' "
        f"AND WONUM IN ({', '.join(repr(w) for _, w in changed)})",
        f"INSERT INTO MATUSETRANS ({', '.join(issue_columns)}) SELECT {', '.join(copied)} FROM MATUSETRANS "
        f"WHERE MATUSETRANSID <= 7 AND ITEMNUM IS NOT NULL")
    expected_reads = {s["name"]: _at_or_after(source, s, bookmarks[s["name"]]) for s in MAXIMO_STREAMS}
    url, second = _run(config_path)
    assert {name: s.rows_read for name, s in second.items()} == expected_reads
    assert expected_reads["work_orders"] >= 5 and expected_reads["material_issues"] >= 7
    assert all(n < expected[name][0] // 10 for name, n in expected_reads.items()), expected_reads
    after = _canonical(url, "work_order", "maximo", "status", "source_status")
    assert set(after.loc[[f"{site}|{wo}" for site, wo in changed], "status"]) == {"closed"}
    assert readback.row_count(url, schema.CANONICAL_TABLES["material_issue"]) == \
        source.scalar("SELECT COUNT(*) FROM MATUSETRANS") - planted["material_issues"].count


# ------------------------------------------------------------------ JD Edwards manufacturing over SQLite ODBC


def _julian_date(value: int) -> pd.Timestamp:
    return pd.Timestamp(date(1900 + value // 1000, 1, 1) + timedelta(days=value % 1000 - 1))


def test_jde_manufacturing_layout_over_sqlite_odbc(realworld, tmp_path):
    tables = cmms_layouts.jde_manufacturing_tables(realworld)
    database = tmp_path / "jde.sqlite"
    erp_layouts.load_sqlite(database, tables)
    config_path = _write_config(tmp_path, "jde", {"connection_string": f"Driver=SQLite3;Database={database}"},
                                _stream_settings(JDE_STREAMS, lambda sql: sql))
    url, streams = _run(config_path)

    planted = cmms_layouts.JDE_PLANTED
    source = {name: t.rows for name, t in tables.items()}
    # every fixture row is read and either mapped and loaded or quarantined, nothing skipped
    assert {name: (s.rows_read, s.rows_skipped, s.rows_quarantined, s.rows_loaded) for name, s in streams.items()} == {
        s["name"]: (len(source[s["table"]]), 0, planted[s["name"]].count if s["name"] in planted else 0,
                    len(source[s["table"]]) - (planted[s["name"]].count if s["name"] in planted else 0))
        for s in JDE_STREAMS}

    quarantined = _quarantined(url, "jde")
    engine = create_engine(f"sqlite:///{database}")
    key_columns = {"work_orders": ["WADCTO", "WADOCO"], "operations": ["WLDCTO", "WLDOCO", "WLOPSQ"],
                   "material_issues": ["WMUKID"], "labour": ["WTUKID"]}
    tables_of = {s["name"]: s["table"] for s in JDE_STREAMS}
    with engine.connect() as conn:
        for stream, bad in planted.items():
            found = pd.read_sql(text(f"SELECT * FROM {tables_of[stream]} WHERE {bad.where}"), conn)
            rows = quarantined[quarantined["stream"] == stream]
            assert len(found) == bad.count and sorted(rows["source_key"]) == _keys(found, key_columns[stream])
            assert set(rows["field"]) == {bad.field}
            assert all(reason.startswith(bad.reason) for reason in rows["reason"]), set(rows["reason"])
    engine.dispose()
    assert set(quarantined["stream"]) == set(planted)

    # F4801: Julian dates (0 = no date), implied decimals, padding
    f4801 = source["F4801"].set_index(_key_index(source["F4801"], ["WADCTO", "WADOCO"]))
    work_orders = _canonical(url, "work_order", "jde", "wo_number", "site", "status", "item_number", "qty",
                             "created_date", "start_date", "estimate_labour")
    good = f4801.loc[work_orders.index]
    assert (work_orders["wo_number"] == good["WADOCO"].astype(str)).all()
    assert set(work_orders["site"]) == {"P100", "P110"}
    assert (work_orders["item_number"] == good["WALITM"].str.strip()).all()
    assert work_orders["qty"].tolist() == pytest.approx((good["WAUORG"] / 100).tolist())
    assert work_orders["estimate_labour"].tolist() == pytest.approx((good["WALBAM"] / 100).tolist())
    assert (pd.to_datetime(work_orders["created_date"]) == good["WATRDJ"].map(_julian_date)).all()
    unscheduled = good["WASTRT"] == 0
    assert unscheduled.sum() > 10 and work_orders.loc[unscheduled, "start_date"].isna().all()
    assert (pd.to_datetime(work_orders.loc[~unscheduled, "start_date"])
            == good.loc[~unscheduled, "WASTRT"].map(_julian_date)).all()
    assert set(work_orders["status"]) <= {"planned", "released", "in_progress", "completed", "cancelled", "closed"}

    # F3112: operation 10.00 -> "10", outside operations with supplier and PO
    operations = _canonical(url, "wo_operation", "jde", "wo_number", "op_seq", "work_centre",
                            "is_outside_processing", "expected_supplier", "po_ref", "po_line_ref", "process")
    assert set(operations["op_seq"]) == {"10", "20", "30", "40", "50"}
    f3112 = source["F3112"].set_index(_key_index(source["F3112"], ["WLDCTO", "WLDOCO", "WLOPSQ"]))
    routing = f3112.loc[operations.index]
    assert (operations["work_centre"] == routing["WLMCU"].str.strip()).all()
    outside = operations["is_outside_processing"].astype(bool)
    assert (outside == (routing["WLVEND"] != 0)).all() and outside.sum() > 50
    assert (operations.loc[outside, "expected_supplier"] == routing.loc[outside, "WLVEND"].astype(str)).all()
    assert operations.loc[~outside, ["expected_supplier", "po_ref", "po_line_ref"]].isna().all().all()
    assert (operations.loc[outside, "po_ref"] == routing.loc[outside, "WLRORN"].str.lstrip("0")).all()
    assert set(operations.loc[outside, "po_line_ref"]) == {"1"}
    assert set(operations.loc[outside, "process"]) == {"heat_treat", "plating", "ndt"}

    # F4311 names the work order zero-filled to 8: normalized, it meets F4801's number and F3112's operation
    po_lines = _canonical(url, "po_line", "jde", "po_number", "wo_ref", "op_ref")
    assert source["F4311"]["PDRORN"].str.startswith("000").all() and len(po_lines) == len(source["F4311"])
    osp = source["F3112"][source["F3112"]["WLVEND"] != 0]
    assert sorted(zip(po_lines["po_number"], po_lines["wo_ref"], po_lines["op_ref"])) == sorted(
        zip(osp["WLRORN"].astype(int).astype(str), osp["WLDOCO"].astype(str), (osp["WLOPSQ"] // 100).astype(str)))
    assert set(po_lines["wo_ref"]) <= set(f4801["WADOCO"].astype(str))
    bought = operations[outside]
    by_po = po_lines.set_index("po_number").loc[bought["po_ref"]]
    assert (by_po["wo_ref"].to_numpy() == bought["wo_number"].to_numpy()).all()
    assert (by_po["op_ref"].to_numpy() == bought["op_seq"].to_numpy()).all()

    # F3111 and F31122: implied decimals on quantities, hours and rates
    issues = _canonical(url, "material_issue", "jde", "qty", "op_seq", "item_number", "po_ref")
    f3111 = source["F3111"].set_index(source["F3111"]["WMUKID"].astype(str)).loc[issues.index]
    assert issues["qty"].tolist() == pytest.approx((f3111["WMTRQT"] / 100).tolist())
    assert set(issues["op_seq"]) == {"10"} and (issues["item_number"] == f3111["WMCPIL"].str.strip()).all()
    bought_parts = f3111["WMRORN"].str.strip() != ""
    assert bought_parts.sum() > 5
    assert (issues.loc[bought_parts, "po_ref"] == f3111.loc[bought_parts, "WMRORN"].str.lstrip("0")).all()
    labour = _canonical(url, "labour_entry", "jde", "hours", "rate", "person", "craft")
    f31122 = source["F31122"].set_index(source["F31122"]["WTUKID"].astype(str)).loc[labour.index]
    assert labour["hours"].tolist() == pytest.approx((f31122["WTHRW"] / 100).tolist())
    assert labour["rate"].tolist() == pytest.approx((f31122["WTPRTR"] / 1000).tolist())
    assert set(labour["craft"]) == {"run_labour", "setup_labour", "machine"}


def test_the_work_order_specs_pass_mappings_check(tmp_path):
    """Every shipped Maximo and JD Edwards work-order spec, through the real command line."""
    sources = [{"name": name, "kind": "odbc", "role": role,
                "connection": {"connection_string": f"Driver=SQLite3;Database={tmp_path / 'unused.sqlite'}"},
                "streams": _stream_settings(streams, lambda sql: sql)}
               for name, role, streams in (("maximo", "cmms", MAXIMO_STREAMS), ("jde", "erp", JDE_STREAMS))]
    results = mappings_check(write_config(tmp_path, sources, sites=SITES))
    assert {(r["source"], r["stream"]): (r.get("entity"), r["problems"]) for r in results} == {
        (name, s["name"]): (s["entity"], []) for name, streams in (("maximo", MAXIMO_STREAMS), ("jde", JDE_STREAMS))
        for s in streams}

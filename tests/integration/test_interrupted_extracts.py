"""An extract interrupted half way ends in a completed restart or a failed run that lost nothing.

Two real interruptions, through the whole runner: PostgreSQL kills the ODBC connection in the
middle of a read (``pg_terminate_backend``), and a SOAP service fails from page k on. Either the
stream restarts from its committed bookmark and completes, or (restarts off) the run fails as
transient with the bookmark where the last committed batch left it; a re-run then leaves the
warehouse exactly as an uninterrupted run would.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psycopg2
import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.contract.test_soap_retries import PAGE, FlakyProxy
from tests.integration.readback import canonical_rows, stored_bookmark, stream_log
from threadline.config import load_config
from threadline.demo.landscape import build_landscape
from threadline.pipeline import SilentReporter, run_pipeline

VENDORS = 24_000
BATCH = 1_000
KILL_AFTER_BATCH = 3

SUPPLIER_SPEC = """\
entity: supplier
description: suppliers of a small ERP table read over ODBC
source_key:
  from: id
  transforms: [to_text]
fields:
  supplier_id:
    from: id
    transforms: [to_text]
  name:
    from: name
    transforms: [strip_padding]
  site:
    value: NORTH
"""


def content(url: str, entity: str, source_system: str) -> dict[str, tuple]:
    """source_key -> (record_hash, deleted_at) of one source's rows: the content, not the lineage."""
    return canonical_rows(url, entity, source_system, "record_hash", "deleted_at")


# --------------------------------------------------------------------------- ODBC, server-side kill

class KillAfterBatch(SilentReporter):
    """Terminates every other session of the source database once ``after`` batches are loaded."""

    def __init__(self, dsn: str, database: str, after: int):
        self.dsn, self.database, self.after = dsn, database, after
        self.loaded = 0
        self.killed = 0

    def batch_loaded(self, source: str, stream: str, rows: int) -> None:
        self.loaded += 1
        if self.loaded == self.after and not self.killed:
            with psycopg2.connect(self.dsn) as admin, admin.cursor() as cursor:
                cursor.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (self.database,))
                self.killed = cursor.fetchone()[0]
            admin.close()


@pytest.fixture()
def odbc_erp(pg_database, tmp_path):
    """A PostgreSQL database with a supplier table, and a threadline.yaml reading it over ODBC."""
    url = pg_database.url
    engine = create_engine(url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE vendor (id INTEGER PRIMARY KEY, name CHAR(40) NOT NULL, "
                          "upmj INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO vendor SELECT g, 'Supplier ' || g, 126000 + g / 500 "
                          "FROM generate_series(1, :n) AS g"), {"n": VENDORS})
    engine.dispose()
    (tmp_path / "vendor.yaml").write_text(SUPPLIER_SPEC)
    connection_string = (f"Driver=PostgreSQL Unicode;Server={url.host};Port={url.port or 5432};"
                         f"Database={url.database};UseDeclareFetch=1;Fetch=200;CommLog=0")
    config = {
        "warehouse": {"url": f"sqlite:///{tmp_path / 'warehouse.sqlite'}"},
        "landing_dir": "landing", "reports_dir": "reports", "reporting_currency": "USD",
        "sites": [{"id": "NORTH"}],
        "sources": [{
            "name": "erp_pg", "kind": "odbc", "role": "erp", "resume_backoff_seconds": 0,
            "connection": {"connection_string": connection_string, "username": url.username},
            "streams": [{"name": "vendors", "mapping": "vendor.yaml", "table": "vendor", "key": ["id"],
                         "bookmark": ["upmj", "id"], "batch_size": BATCH}],
        }],
    }
    path = tmp_path / "threadline.yaml"
    path.write_text(yaml.safe_dump(config))
    admin_dsn = f"host={url.host} port={url.port or 5432} user={url.username} dbname=postgres"
    return path, admin_dsn, url.database


def source_vendors(pg_database) -> set[str]:
    engine = create_engine(pg_database.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        keys = {str(k) for (k,) in conn.execute(text("SELECT id FROM vendor"))}
    engine.dispose()
    return keys


def test_a_killed_odbc_connection_restarts_from_the_committed_bookmark_and_completes(odbc_erp, pg_database):
    path, admin_dsn, database = odbc_erp
    config = load_config(path)
    killer = KillAfterBatch(admin_dsn, database, KILL_AFTER_BATCH)

    run = run_pipeline(config, reconcile=False, reporter=killer)

    assert killer.killed >= 1, "the test must have killed the reading session"
    assert run.status == "succeeded", run.error
    (log,) = stream_log(config.warehouse.resolved_url(), run.run_id)
    assert log["resumes"] == 1
    loaded = content(config.warehouse.resolved_url(), "supplier", "erp_pg")
    assert set(loaded) == source_vendors(pg_database)
    assert log["rows_read"] >= VENDORS  # batches read again after the restart are counted, not lost


def test_with_restarts_off_a_killed_connection_fails_the_run_keeping_the_committed_bookmark(odbc_erp, pg_database):
    path, admin_dsn, database = odbc_erp
    text_config = path.read_text().replace("resume_backoff_seconds: 0", "resume_backoff_seconds: 0\n  resume_attempts: 0")
    path.write_text(text_config)
    config = load_config(path)
    url = config.warehouse.resolved_url()
    killer = KillAfterBatch(admin_dsn, database, KILL_AFTER_BATCH)

    failed = run_pipeline(config, reconcile=False, reporter=killer)

    assert killer.killed >= 1
    assert failed.status == "failed" and failed.transient, failed.error
    assert "erp_pg" in failed.error and "vendors" in failed.error
    (log,) = stream_log(url, failed.run_id)
    assert log["status"] == "failed"
    committed = log["rows_loaded"]
    assert KILL_AFTER_BATCH * BATCH <= committed < VENDORS
    # the bookmark is the last row of the last committed batch: nothing beyond it, nothing short of it
    loaded = content(url, "supplier", "erp_pg")
    assert len(loaded) == committed
    bookmark = stored_bookmark(url, "erp_pg", "vendors")
    assert bookmark == {"upmj": 126000 + committed // 500, "id": committed}
    assert set(loaded) == {str(i) for i in range(1, committed + 1)}

    rerun = run_pipeline(config, reconcile=False)
    assert rerun.status == "succeeded", rerun.error
    assert set(content(url, "supplier", "erp_pg")) == source_vendors(pg_database)


# --------------------------------------------------------------------------- SOAP, failing from page k

@pytest.fixture()
def soap_landscape(tmp_path, monkeypatch):
    built = build_landscape(tmp_path / "demo", scale=120)
    for name, value in built.env.items():
        monkeypatch.setenv(name, value)
    with built.start_erp_service() as service:
        proxy = FlakyProxy(service.url)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        yield built, proxy
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


def soap_only_config(landscape, proxy: FlakyProxy, folder: Path, **source_settings) -> Path:
    """The landscape's config reduced to its SOAP source behind ``proxy``: one page per batch, no page retries."""
    config = yaml.safe_load(landscape.config_path.read_text())
    source = next(s for s in config["sources"] if s["kind"] == "soap")
    source["connection"].update(endpoint=proxy.url, retries=0)
    source.update(resume_backoff_seconds=0, **source_settings)
    for stream in source["streams"]:
        stream["batch_size"] = PAGE
        stream.setdefault("paging", {})["page_size"] = PAGE
    source["connection"]["wsdl"] = str((landscape.config_path.parent / source["connection"]["wsdl"]).resolve())
    for stream in source["streams"]:
        stream["mapping"] = str(load_config(landscape.config_path).resolve_mapping(stream["mapping"]))
    config["sources"] = [source]
    config["warehouse"] = {"url": f"sqlite:///{folder / 'warehouse.sqlite'}"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "threadline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def soap_warehouse(url: str) -> dict[str, dict[str, tuple]]:
    return {entity: content(url, entity, "erp_soap")
            for entity in ("supplier", "purchase_order", "po_line", "receipt", "invoice_line")}


def test_a_soap_service_failing_on_page_k_restarts_and_loads_what_an_uninterrupted_run_loads(soap_landscape, tmp_path):
    landscape, proxy = soap_landscape
    clean = load_config(soap_only_config(landscape, proxy, tmp_path / "clean"))
    assert run_pipeline(clean, reconcile=False).status == "succeeded"
    expected = soap_warehouse(clean.warehouse.resolved_url())
    assert sum(map(len, expected.values())) > 5 * PAGE

    proxy.requests.clear()
    proxy.failures[2 * PAGE] = ("http503", 1)  # the third page of the first stream fails once
    config = load_config(soap_only_config(landscape, proxy, tmp_path / "interrupted"))
    run = run_pipeline(config, reconcile=False)

    assert run.status == "succeeded", run.error
    logs = stream_log(config.warehouse.resolved_url(), run.run_id)
    assert sorted(log["resumes"] for log in logs)[-1] == 1 and sum(log["resumes"] for log in logs) == 1
    assert soap_warehouse(config.warehouse.resolved_url()) == expected


def test_with_restarts_off_a_soap_failure_on_page_k_fails_keeping_the_committed_bookmark(soap_landscape, tmp_path):
    landscape, proxy = soap_landscape
    clean = load_config(soap_only_config(landscape, proxy, tmp_path / "clean"))
    assert run_pipeline(clean, reconcile=False).status == "succeeded"
    expected = soap_warehouse(clean.warehouse.resolved_url())

    proxy.failures[2 * PAGE] = ("http503", None)  # every stream's third page keeps failing
    config = load_config(soap_only_config(landscape, proxy, tmp_path / "interrupted", resume_attempts=0))
    url = config.warehouse.resolved_url()
    failed = run_pipeline(config, reconcile=False)

    assert failed.status == "failed" and failed.transient, failed.error
    assert "HTTP 503" in failed.error
    logs = {log["stream"]: log for log in stream_log(url, failed.run_id)}
    po_lines = logs["po_lines"]
    # lines of the two good pages of purchase orders, in whole committed batches of PAGE lines
    assert po_lines["status"] == "failed" and po_lines["rows_loaded"] > 0 and po_lines["rows_loaded"] % PAGE == 0
    clean_lines = content(clean.warehouse.resolved_url(), "po_line", "erp_soap")
    loaded = content(url, "po_line", "erp_soap")
    assert len(loaded) == po_lines["rows_loaded"] < len(clean_lines) and loaded.items() <= clean_lines.items()
    assert stored_bookmark(url, "erp_soap", "po_lines") == json.loads(po_lines["bookmark_after"])

    proxy.failures.clear()
    rerun = run_pipeline(config, reconcile=False)
    assert rerun.status == "succeeded", rerun.error
    assert soap_warehouse(url) == expected

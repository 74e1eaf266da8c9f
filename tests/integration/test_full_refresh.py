"""A full refresh (`threadline sync --source S --full`) soft-deletes what the source no longer holds.

Rows that vanish are marked (``deleted_at``, ``deleted_run_id``), never dropped; a row that comes
back is live again; an incremental sync never deletes; a refresh that would delete most of a
source refuses and deletes nothing; an incomplete read (a key it could not read) decides nothing.
"""

from __future__ import annotations

import json
import sqlite3

from tests.integration.readback import canonical_rows, row_count, stream_log
from tests.integration.test_cli import cli
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse


def jde_source(landscape) -> sqlite3.Connection:
    return sqlite3.connect(landscape.out_dir / "erp_jde.sqlite")


def warehouse_rows(config, entity: str = "po_line") -> dict[str, tuple]:
    """source_key -> (deleted_at, deleted_run_id) of JDE rows of ``entity`` in the warehouse, deleted ones too."""
    return canonical_rows(config.warehouse.resolved_url(), entity, "jde", "deleted_at", "deleted_run_id")


def line_key(row: tuple) -> str:
    """The demo_jde source key of an F4311 row (company, order, type, suffix, line)."""
    kcoo, doco, dcto, sfxo, lnid = row
    return "|".join([str(kcoo).strip(), str(doco), str(dcto).strip(), str(sfxo).strip(), str(lnid)])


def test_vanished_rows_are_soft_deleted_only_by_a_full_refresh_and_come_back_when_the_source_has_them(landscape):
    config = load_config(landscape.config_path)
    first = run_pipeline(config, sources=["jde"], reconcile=False, command="sync")
    assert first.status == "succeeded"
    loaded = warehouse_rows(config)
    assert loaded and all(deleted is None for deleted, _ in loaded.values())

    with jde_source(landscape) as db:
        gone = db.execute("SELECT PDKCOO, PDDOCO, PDDCTO, PDSFXO, PDLNID, * FROM F4311 "
                          "ORDER BY PDDOCO, PDLNID LIMIT 3").fetchall()
        for row in gone:
            db.execute("DELETE FROM F4311 WHERE PDDOCO = ? AND PDLNID = ?", (row[1], row[4]))
    gone_keys = {line_key(row[:5]) for row in gone}
    assert gone_keys <= set(loaded)

    incremental = run_pipeline(config, sources=["jde"], reconcile=False, command="sync")
    assert incremental.status == "succeeded"
    assert all(s.rows_deleted is None for s in incremental.streams)
    assert all(deleted is None for deleted, _ in warehouse_rows(config).values())

    full = run_pipeline(config, sources=["jde"], full=True, reconcile=False, command="sync --full")
    assert full.status == "succeeded", full.error
    po_lines = next(s for s in full.streams if s.stream == "po_lines")
    assert po_lines.rows_deleted == 3
    assert all(s.rows_deleted == 0 for s in full.streams if s.stream != "po_lines" and s.entity != "po_line")
    after = warehouse_rows(config)
    assert set(after) == set(loaded), "soft-deleted rows stay in the warehouse"
    assert {k for k, (deleted, _) in after.items() if deleted is not None} == gone_keys
    assert {run for k, (_, run) in after.items() if k in gone_keys} == {full.run_id}
    url = config.warehouse.resolved_url()
    (po_lines_log,) = [s for s in stream_log(url, full.run_id) if s["stream"] == "po_lines"]
    assert po_lines_log["rows_deleted"] == 3
    warehouse = open_warehouse(url)
    try:
        live = set(warehouse.read_entity("po_line", ["source_key", "source_system"])
                   .query("source_system == 'jde'")["source_key"])
    finally:
        warehouse.dispose()
    assert live == set(loaded) - gone_keys
    assert row_count(url, schema.key_seen) == 0, "the key snapshot is dropped once deletes are settled"

    # one line comes back exactly as it was: live again, although its content did not change
    with jde_source(landscape) as db:
        columns = [c[1] for c in db.execute("PRAGMA table_info(F4311)")]
        back = gone[0][5:]
        db.execute(f"INSERT INTO F4311 ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", back)
    again = run_pipeline(config, sources=["jde"], full=True, reconcile=False, command="sync --full")
    assert again.status == "succeeded", again.error
    assert next(s for s in again.streams if s.stream == "po_lines").rows_deleted == 0
    revived = warehouse_rows(config)
    assert {k for k, (deleted, _) in revived.items() if deleted is not None} == gone_keys - {line_key(gone[0][:5])}


def test_a_full_refresh_that_would_delete_most_rows_refuses_and_deletes_nothing(landscape):
    config = load_config(landscape.config_path)
    assert run_pipeline(config, sources=["jde"], reconcile=False).status == "succeeded"
    with jde_source(landscape) as db:
        db.execute("DELETE FROM F4311")

    done = cli("--config", str(landscape.config_path), "sync", "--source", "jde", "--full", env=landscape.env)
    assert done.returncode == 1
    assert "max_delete_fraction" in done.stderr + done.stdout
    assert all(deleted is None for deleted, _ in warehouse_rows(config).values())

    text = landscape.config_path.read_text().replace("- name: jde\n", "- name: jde\n  max_delete_fraction: 1.0\n", 1)
    landscape.config_path.write_text(text)
    done = cli("--config", str(landscape.config_path), "sync", "--source", "jde", "--full", "--json",
               env=landscape.env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["totals"]["rows_deleted"] == len(warehouse_rows(config))
    assert all(deleted is not None for deleted, _ in warehouse_rows(config).values())


def test_quarantined_rows_without_a_key_stop_the_delete_check(landscape):
    config = load_config(landscape.config_path)
    assert run_pipeline(config, sources=["jde"], reconcile=False).status == "succeeded"
    suppliers_before = warehouse_rows(config, "supplier")
    with jde_source(landscape) as db:
        db.execute("DELETE FROM F0101 WHERE rowid IN (SELECT rowid FROM F0101 LIMIT 2)")
        db.execute("UPDATE F0101 SET ABAN8 = NULL WHERE rowid = (SELECT MAX(rowid) FROM F0101)")
        db.execute("DELETE FROM F4311 WHERE rowid IN (SELECT rowid FROM F4311 LIMIT 1)")

    full = run_pipeline(config, sources=["jde"], full=True, reconcile=False)
    suppliers = next(s for s in full.streams if s.stream == "suppliers")
    assert suppliers.rows_quarantined == 1
    assert suppliers.rows_deleted is None
    assert "no readable key" in suppliers.notes
    assert warehouse_rows(config, "supplier") == suppliers_before, "nothing deleted from an incomplete read"
    # the other entities of the source were read completely: their deletes go ahead
    assert next(s for s in full.streams if s.stream == "po_lines").rows_deleted == 1

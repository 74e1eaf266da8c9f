"""A file-drop inbox (CSV and XLSX) through the real pipeline into a SQLite warehouse.

Good and bad files in one inbox: the good rows load and their files move to processed/, the bad
file is rejected whole with a reason file, the ledger and the run log say so. The same content
dropped again is a duplicate. When a stream of the source fails, the files stay in the inbox and
the next run loads them. A full refresh of an inbox soft-deletes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from tests.integration.readback import _query, canonical_rows, stream_log
from tests.integration.test_cli import cli
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema

SUPPLIERS_SPEC = {
    "entity": "supplier",
    "source_key": {"from": "supplier_id", "transforms": ["strip_padding"]},
    "fields": {"supplier_id": {"from": "supplier_id", "transforms": ["strip_padding"]},
               "name": {"from": "name", "transforms": ["strip_padding"]},
               "site": {"value": "NORTH"}},
}
PO_LINES_SPEC = {
    "entity": "po_line",
    "source_key": {"from": ["po_number", "line"]},
    "fields": {"po_number": {"from": "po_number"}, "line_number": {"from": "line"}, "site": {"value": "NORTH"},
               "qty_ordered": {"from": "qty", "transforms": ["to_number"]},
               "unit_price": {"from": "price", "transforms": ["to_number"]},
               "status": {"from": "status"}},
}


def build(tmp_path: Path) -> tuple[Path, Path]:
    """A config with one inbox source: suppliers as cp1252 CSV (decimal comma), PO lines as XLSX."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "suppliers.yaml").write_text(yaml.safe_dump(SUPPLIERS_SPEC))
    (tmp_path / "specs" / "po_lines.yaml").write_text(yaml.safe_dump(PO_LINES_SPEC))
    config = {
        "warehouse": {"url": "sqlite:///warehouse.sqlite"}, "landing_dir": "landing", "reports_dir": "reports",
        "reporting_currency": "EUR", "sites": [{"id": "NORTH"}],
        "sources": [{
            "name": "drops", "kind": "files", "role": "erp",
            "connection": {"path": "inbox", "encoding": "cp1252", "delimiter": ";", "decimal": ","},
            "streams": [
                {"name": "suppliers", "mapping": "specs/suppliers.yaml", "pattern": "suppliers_*.csv",
                 "key": ["supplier_id"]},
                {"name": "po_lines", "mapping": "specs/po_lines.yaml", "pattern": "po_lines_*.xlsx",
                 "sheet": "Lines", "key": ["po_number", "line"]},
            ]}],
    }
    path = tmp_path / "threadline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, inbox


def write_suppliers(inbox: Path, name: str, rows: list[tuple[str, str]]) -> None:
    text = "supplier_id;name\r\n" + "".join(f"{k};{v}\r\n" for k, v in rows)
    (inbox / name).write_bytes(text.encode("cp1252"))


def write_po_lines(inbox: Path, name: str, rows: list[list],
                   header: tuple[str, ...] = ("po_number", "line", "qty", "price", "status")) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Lines"
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    book.save(inbox / name)


def ledger(url: str) -> dict[str, tuple]:
    t = schema.inbox_file
    return {r["file_name"]: (r["status"], r["run_id"], r["reason"])
            for r in _query(url, select(t.c.file_name, t.c.status, t.c.run_id, t.c.reason))}


def sync(config_path: Path, **kwargs):
    return run_pipeline(load_config(config_path), reconcile=False, command="sync", **kwargs)


def test_good_files_load_bad_ones_are_rejected_and_a_redrop_is_a_duplicate(tmp_path):
    config_path, inbox = build(tmp_path)
    write_suppliers(inbox, "suppliers_001.csv", [("S1", "Müller Härterei"), ("S2", "Acme – Wärmebehandlung")])
    (inbox / "suppliers_002.csv").write_bytes(b"supplier_id;name\r\nS3;bad \x81 byte\r\n")  # undefined in cp1252
    write_po_lines(inbox, "po_lines_001.xlsx", [["PO-1", 1, 10, 12.5, "open"], ["PO-1", 2, 3, 7, "open"]])
    (inbox / "po_lines_002.xlsx").write_text("po_number;line\nPO-9;1\n")  # not a workbook
    # no status column, which the mapping reads
    write_po_lines(inbox, "po_lines_003.xlsx", [["PO-2", 1, 1, 1]], header=("po_number", "line", "qty", "price"))
    url = load_config(config_path).warehouse.resolved_url()

    first = sync(config_path)
    assert first.status == "succeeded", first.error
    assert canonical_rows(url, "supplier", "drops", "name") == {"S1": ("Müller Härterei",),
                                                               "S2": ("Acme – Wärmebehandlung",)}
    assert canonical_rows(url, "po_line", "drops", "qty_ordered", "unit_price") == {
        "PO-1|1": (10.0, 12.5), "PO-1|2": (3.0, 7.0)}
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["po_lines_001.xlsx", "suppliers_001.csv"]
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "po_lines_002.xlsx", "po_lines_002.xlsx.reason.txt", "po_lines_003.xlsx", "po_lines_003.xlsx.reason.txt",
        "suppliers_002.csv", "suppliers_002.csv.reason.txt"]
    assert not [p for p in inbox.iterdir() if p.is_file()], "nothing is left in the inbox"
    reason = (rejected / "suppliers_002.csv.reason.txt").read_text()
    assert "line: 2" in reason and "cp1252" in reason and "how to fix:" in reason
    assert "['status']" in (rejected / "po_lines_003.xlsx.reason.txt").read_text()
    assert "not an XLSX workbook" in (rejected / "po_lines_002.xlsx.reason.txt").read_text()
    books = ledger(url)
    assert {n: s for n, (s, _, _) in books.items()} == {
        "suppliers_001.csv": "processed", "po_lines_001.xlsx": "processed", "suppliers_002.csv": "rejected",
        "po_lines_002.xlsx": "rejected", "po_lines_003.xlsx": "rejected"}
    assert {run for _, run, _ in books.values()} == {first.run_id}
    log = {s["stream"]: s for s in stream_log(url, first.run_id)}
    assert log["suppliers"]["rows_loaded"] == 2 and log["po_lines"]["rows_loaded"] == 2
    assert "3 rejected" in log["suppliers"]["notes"] and "suppliers_002.csv" in log["po_lines"]["notes"]

    # the same content again, under another name: not loaded, moved to duplicate/ naming the first file
    write_suppliers(inbox, "suppliers_009.csv", [("S1", "Müller Härterei"), ("S2", "Acme – Wärmebehandlung")])
    write_suppliers(inbox, "suppliers_010.csv", [("S1", "Müller Härterei GmbH")])
    second = sync(config_path)
    assert second.status == "succeeded", second.error
    status, run, why = ledger(url)["suppliers_009.csv"]
    assert status == "duplicate" and run == second.run_id and "suppliers_001.csv" in why and first.run_id in why
    assert (inbox / "duplicate" / "suppliers_009.csv").is_file()
    assert (inbox / "processed" / "suppliers_010.csv").is_file()
    log = {s["stream"]: s for s in stream_log(url, second.run_id)}
    assert log["suppliers"]["rows_read"] == 1, "the duplicate's rows were not read"
    assert canonical_rows(url, "supplier", "drops", "name")["S1"] == ("Müller Härterei GmbH",)

    listed = cli("--config", str(config_path), "files", "list", "--status", "rejected", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(r["file_name"] for r in json.loads(listed.stdout)) == [
        "po_lines_002.xlsx", "po_lines_003.xlsx", "suppliers_002.csv"]


def test_when_a_stream_fails_the_files_stay_in_the_inbox_and_load_next_time(tmp_path):
    config_path, inbox = build(tmp_path)
    write_suppliers(inbox, "suppliers_001.csv", [("S1", "Acme")])
    write_po_lines(inbox, "po_lines_001.xlsx", [["PO-1", 1, 10, 12.5, "open"]])
    url = load_config(config_path).warehouse.resolved_url()
    spec = tmp_path / "specs" / "po_lines.yaml"
    good = spec.read_text()
    config = load_config(config_path)
    spec.write_text(good.replace("entity: po_line", "entity: po_lines"))  # broken after the config was checked

    failed = run_pipeline(config, reconcile=False, command="sync")
    assert failed.status == "failed" and "po_lines" in failed.error
    assert canonical_rows(url, "supplier", "drops", "name") == {"S1": ("Acme",)}, "the good stream loaded"
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["po_lines_001.xlsx", "suppliers_001.csv"]
    assert not (inbox / "processed").exists() and ledger(url) == {}
    (log,) = stream_log(url, failed.run_id)
    assert "left in the inbox" in log["notes"]

    spec.write_text(good)
    again = sync(config_path)
    assert again.status == "succeeded", again.error
    assert canonical_rows(url, "po_line", "drops", "qty_ordered") == {"PO-1|1": (10.0,)}
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["po_lines_001.xlsx", "suppliers_001.csv"]
    assert {s for s, _, _ in ledger(url).values()} == {"processed"}


def test_a_full_refresh_of_an_inbox_soft_deletes_nothing(tmp_path):
    config_path, inbox = build(tmp_path)
    write_suppliers(inbox, "suppliers_001.csv", [("S1", "Acme"), ("S2", "Bolt")])
    url = load_config(config_path).warehouse.resolved_url()
    assert sync(config_path).status == "succeeded"
    full = sync(config_path, full=True)
    assert full.status == "succeeded", full.error
    rows = canonical_rows(url, "supplier", "drops", "deleted_at")
    assert rows == {"S1": (None,), "S2": (None,)}, "files already processed are not deletions"
    assert all("soft deletes not checked" in s["notes"] for s in stream_log(url, full.run_id))

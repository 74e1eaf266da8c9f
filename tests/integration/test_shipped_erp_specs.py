"""The shipped ERPNext, Epicor and SAP mapping specs, run by the real pipeline over their real layouts.

Each test loads a small seeded fixture (``tests/erp_packages.py``; columns and types from the
real-world catalogues) into a real database: ERPNext into MariaDB, as ERPNext runs, with its
``tab<DocType>`` table names that hold spaces; Epicor and SAP into SQLite files (SAP's structures
as the RFC tables BAPI_PO_GETDETAIL1 returns). A threadline.yaml with a ``sql`` source runs
``run_pipeline`` into a SQLite warehouse, and the canonical rows are checked by hand: counts,
normalized keys, link fields, values, and the planted bad rows quarantined with their reasons.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from tests.integration.commands import mappings_check, write_config
from tests import erp_packages
from tests.integration.readback import canonical_rows, stream_log
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema

SPECS = Path(__file__).resolve().parents[2] / "mappings" / "specs"


def _write_config(tmp_path: Path, source: dict) -> Path:
    return write_config(tmp_path, [source])


def _sync(config_path: Path):
    """One ``threadline sync`` run; returns the warehouse URL and the run log rows by stream."""
    config = load_config(config_path)
    result = run_pipeline(config, command="sync", reconcile=False)
    assert result.status == "succeeded", result.error
    url = config.warehouse.resolved_url()
    return url, {row["stream"]: row for row in stream_log(url, result.run_id)}


def _quarantined(url: str, source: str) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    """(stream, source_key) -> (field, reason, raw value) of every quarantined row of a source."""
    engine = create_engine(url)
    try:
        q = schema.quarantine
        with engine.connect() as conn:
            rows = conn.execute(select(q.c.stream, q.c.source_key, q.c.field, q.c.reason, q.c.raw_value)
                                .where(q.c.source == source)).all()
    finally:
        engine.dispose()
    return {(r.stream, r.source_key): (r.field, r.reason, r.raw_value) for r in rows}


def _counts(log: dict) -> dict[str, tuple[int, int, int, int]]:
    """stream -> (read, loaded, quarantined, skipped); read must equal the other three together."""
    counts = {name: (r["rows_read"], r["rows_loaded"], r["rows_quarantined"], r["rows_skipped"])
              for name, r in log.items()}
    for name, (read, loaded, quarantined, skipped) in counts.items():
        assert read == loaded + quarantined + skipped, name
    return counts


def _day(value) -> date:
    return value.date() if hasattr(value, "date") else date.fromisoformat(str(value)[:10])


# ------------------------------------------------------------------ ERPNext on MariaDB


@pytest.fixture()
def erpnext_database(realworld, mariadb_server_url):
    """The ERPNext tables in a scratch MariaDB database; yields its SQLAlchemy URL."""
    server = make_url(mariadb_server_url)
    name = "tl_erpnext_" + uuid.uuid4().hex[:10]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    try:
        url = server.set(database=name)
        erp_packages.load_tables(url.render_as_string(hide_password=False), erp_packages.erpnext_tables(realworld))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def test_erpnext_specs_map_purchasing_production_and_subcontracting(erpnext_database, tmp_path, monkeypatch):
    password_env = {}
    if erpnext_database.password:
        monkeypatch.setenv("TL_ERPNEXT_PASSWORD", erpnext_database.password)
        password_env = {"password_env": "TL_ERPNEXT_PASSWORD"}
    url = erpnext_database.set(password=None).render_as_string(hide_password=False)
    config_path = _write_config(tmp_path, {"name": "erpnext", "kind": "sql", "role": "erp",
                                           "connection": {"url": url, **password_env},
                                           "streams": erp_packages.ERPNEXT_STREAMS})
    wh, log = _sync(config_path)

    assert _counts(log) == {
        "purchase_orders": (5, 4, 1, 0), "po_lines": (6, 5, 1, 0), "work_orders": (5, 4, 1, 0),
        "operations": (7, 6, 1, 0), "job_cards": (5, 2, 1, 2), "subcontracting_links": (4, 1, 1, 2),
    }

    orders = canonical_rows(wh, "purchase_order", "erpnext", "po_number", "status", "source_status", "approved",
                            "supplier_id", "site", "currency", "order_date")
    assert {k: v[:4] for k, v in orders.items()} == {
        "PUR-ORD-2026-00001": ("PUR-ORD-2026-00001", "open", "1|To Receive and Bill", True),
        "PUR-ORD-2026-00002": ("PUR-ORD-2026-00002", "closed", "1|Completed", True),
        "PUR-ORD-2026-00003": ("PUR-ORD-2026-00003", "draft", "0|Draft", False),
        "PUR-ORD-2026-00004": ("PUR-ORD-2026-00004", "cancelled", "2|Cancelled", False),
    }
    assert orders["PUR-ORD-2026-00001"][4:7] == ("Zuckerman Security Ltd.", erp_packages.ERPNEXT_COMPANY, "USD")
    assert _day(orders["PUR-ORD-2026-00001"][7]) == date(2026, 3, 2)

    lines = canonical_rows(wh, "po_line", "erpnext", "po_number", "line_number", "status", "qty_ordered",
                           "unit_price", "qty_received", "wo_ref", "op_ref", "supplier_id", "currency")
    assert {k: v[:3] for k, v in lines.items()} == {
        "a1f0c3e9b2": ("PUR-ORD-2026-00001", "1", "open"), "b7d2e4a011": ("PUR-ORD-2026-00001", "2", "open"),
        "c3e5f60122": ("PUR-ORD-2026-00002", "1", "closed"), "d4f6071233": ("PUR-ORD-2026-00003", "1", "draft"),
        "e5071823a4": ("PUR-ORD-2026-00004", "1", "cancelled"),
    }
    assert [float(x) for x in lines["a1f0c3e9b2"][3:6]] == [100.0, 4.25, 40.0]
    # the subcontracted line names the work order operation through its job card
    assert lines["b7d2e4a011"][6:] == ("MFG-WO-2026-00001", "2", "Zuckerman Security Ltd.", "USD")
    assert lines["a1f0c3e9b2"][6:8] == (None, None)

    work_orders = canonical_rows(wh, "work_order", "erpnext", "status", "kind", "qty", "item_number")
    assert {k: v[:2] for k, v in work_orders.items()} == {
        "MFG-WO-2026-00001": ("in_progress", "production"), "MFG-WO-2026-00002": ("completed", "production"),
        "MFG-WO-2026-00003": ("planned", "production"), "MFG-WO-2026-00004": ("cancelled", "production"),
    }
    assert float(work_orders["MFG-WO-2026-00001"][2]) == 10.0 and work_orders["MFG-WO-2026-00001"][3] == "SKU007"

    operations = canonical_rows(wh, "wo_operation", "erpnext", "wo_number", "op_seq", "is_outside_processing",
                                "status", "work_centre")
    assert operations == {
        "op0000001a": ("MFG-WO-2026-00001", "1", False, "completed", "Saw 1"),
        "op0000002b": ("MFG-WO-2026-00001", "2", True, "released", "Outside - Heat Treat"),
        "op0000003c": ("MFG-WO-2026-00001", "3", False, "released", "Grinder 2"),
        "op0000004d": ("MFG-WO-2026-00002", "1", False, "completed", "Bench 1"),
        "op0000005e": ("MFG-WO-2026-00003", "1", False, "planned", "Saw 1"),
        "op0000006f": ("MFG-WO-2026-00004", "1", False, "cancelled", "Saw 1"),
    }

    labour = canonical_rows(wh, "labour_entry", "erpnext", "wo_number", "op_seq", "hours", "rate", "entry_date")
    assert {k: (v[0], v[1], round(float(v[2]), 4), float(v[3]), _day(v[4])) for k, v in labour.items()} == {
        "PO-JOB00001": ("MFG-WO-2026-00001", "1", 1.5, 45.0, date(2026, 3, 3)),
        "PO-JOB00003": ("MFG-WO-2026-00002", "1", 2.0, 38.5, date(2026, 3, 5)),
    }

    links = canonical_rows(wh, "wo_po_link", "erpnext", "wo_number", "op_seq", "po_number", "line_number",
                           "asserted_by", "status")
    assert links == {"sc00000001": ("MFG-WO-2026-00001", "2", "PUR-ORD-2026-00001", "2", "erpnext", "asserted")}

    quarantined = _quarantined(wh, "erpnext")
    assert {k: v[0] for k, v in quarantined.items()} == {
        ("purchase_orders", "PUR-ORD-2026-00005"): "status",
        ("po_lines", "f6182934b5"): "site",
        ("work_orders", "MFG-WO-2026-00005"): "status",
        ("operations", "op00000070"): "site",
        ("job_cards", "PO-JOB00005"): "entry_date",
        ("subcontracting_links", "sc00000004"): "wo_number",
    }
    # a submitted document whose status still says Draft: the pair is refused, not guessed
    field, reason, raw = quarantined[("purchase_orders", "PUR-ORD-2026-00005")]
    assert raw == "1|Draft" and reason.startswith("status from docstatus|status: code not in the map")
    assert quarantined[("work_orders", "MFG-WO-2026-00005")][2] == "1|Draft"
    assert quarantined[("po_lines", "f6182934b5")][1] == "po_line.site is required but empty"
    assert quarantined[("subcontracting_links", "sc00000004")][1] == "wo_po_link.wo_number is required but empty"


# ------------------------------------------------------------------ Epicor on SQLite


def test_epicor_specs_map_releases_to_job_operation_links(realworld, tmp_path):
    database = tmp_path / "epicor.sqlite"
    erp_packages.load_tables(f"sqlite:///{database}", erp_packages.epicor_tables(realworld))
    config_path = _write_config(tmp_path, {"name": "epicor", "kind": "sql", "role": "erp",
                                           "connection": {"url": f"sqlite:///{database}"},
                                           "streams": erp_packages.EPICOR_STREAMS})
    wh, log = _sync(config_path)

    assert _counts(log) == {
        "purchase_orders": (4, 3, 1, 0), "po_lines": (5, 4, 1, 0), "po_releases": (5, 1, 1, 3),
        "jobs": (5, 4, 1, 0), "job_operations": (6, 5, 1, 0),
    }
    co = erp_packages.EPICOR_COMPANY
    orders = canonical_rows(wh, "purchase_order", "epicor", "po_number", "status", "supplier_id", "currency",
                            "po_type", "approved")
    assert orders == {f"{co}|4001": ("4001", "open", "217", "USD", "standard", True),
                      f"{co}|4002": ("4002", "closed", "217", "USD", "standard", True),
                      f"{co}|4003": ("4003", "cancelled", "217", "EUR", "standard", True)}

    lines = canonical_rows(wh, "po_line", "epicor", "po_number", "line_number", "status", "qty_ordered",
                           "unit_price", "item_number", "need_by_date")
    assert {k: v[:3] for k, v in lines.items()} == {
        f"{co}|4001|1": ("4001", "1", "open"), f"{co}|4001|2": ("4001", "2", "open"),
        f"{co}|4002|1": ("4002", "1", "closed"), f"{co}|4003|1": ("4003", "1", "cancelled"),
    }
    assert (float(lines[f"{co}|4001|2"][3]), float(lines[f"{co}|4001|2"][4]), lines[f"{co}|4001|2"][5]) == \
        (25.0, 40.0, "HT-SVC")
    assert _day(lines[f"{co}|4001|2"][6]) == date(2026, 3, 20)

    # the subcontract release (JobSeqType S) is Epicor's own link from the PO line to the job operation
    links = canonical_rows(wh, "wo_po_link", "epicor", "wo_number", "op_seq", "po_number", "line_number", "status")
    assert links == {f"{co}|4001|2|1": ("J1000", "0-20", "4001", "2", "asserted")}

    jobs = canonical_rows(wh, "work_order", "epicor", "status", "kind", "item_number", "qty")
    assert {k: v[:3] for k, v in jobs.items()} == {
        f"{co}|J1000": ("released", "production", "SHAFT-100"), f"{co}|J1001": ("completed", "production", "SHAFT-100"),
        f"{co}|J1002": ("closed", "production", "SHAFT-100"), f"{co}|J1003": ("planned", "production", "SHAFT-100"),
    }
    operations = canonical_rows(wh, "wo_operation", "epicor", "wo_number", "op_seq", "is_outside_processing",
                                "expected_supplier", "status", "inspection_required")
    assert operations == {
        f"{co}|J1000|0|10": ("J1000", "0-10", False, None, "completed", False),
        f"{co}|J1000|0|20": ("J1000", "0-20", True, "217", "released", True),
        f"{co}|J1000|0|30": ("J1000", "0-30", False, None, "released", False),
        f"{co}|J1000|1|10": ("J1000", "1-10", False, None, "released", False),
        f"{co}|J1001|0|10": ("J1001", "0-10", False, None, "completed", False),
    }

    quarantined = _quarantined(wh, "epicor")
    assert {k: v[0] for k, v in quarantined.items()} == {
        ("purchase_orders", f"{co}|4004"): "currency",
        ("po_lines", f"{co}|4001|3"): "unit_price",
        ("po_releases", f"{co}|4001|2|2"): "wo_number",
        ("jobs", f"{co}|J1004"): "status",
        ("job_operations", f"{co}|J1000|0|40"): "is_outside_processing",
    }
    assert quarantined[("po_releases", f"{co}|4001|2|2")][1] == "wo_po_link.wo_number is required but empty"


# ------------------------------------------------------------------ SAP on SQLite


def test_sap_specs_normalize_padded_keys_and_split_po_history(realworld, tmp_path):
    database = tmp_path / "sap.sqlite"
    erp_packages.load_tables(f"sqlite:///{database}", erp_packages.sap_tables(realworld))
    config_path = _write_config(tmp_path, {"name": "sap", "kind": "sql", "role": "erp",
                                           "connection": {"url": f"sqlite:///{database}"},
                                           "streams": erp_packages.SAP_STREAMS})
    wh, log = _sync(config_path)

    # one BAPIEKBE table, four specs: goods receipts (event type 1) and invoice receipts (2), each
    # debit (S) and credit (H); every spec skips the other rows, the service entry (9) all of them
    assert _counts(log) == {"purchase_orders": (5, 4, 1, 0), "po_items": (6, 5, 1, 0),
                            "goods_receipts": (8, 2, 1, 5), "receipt_reversals": (8, 1, 0, 7),
                            "invoice_receipts": (8, 1, 1, 6), "credit_memos": (8, 1, 0, 7)}

    orders = canonical_rows(wh, "purchase_order", "sap", "po_number", "po_type", "status", "supplier_id",
                            "currency", "order_date", "site")
    assert {k: v[:5] for k, v in orders.items()} == {
        "4500000123": ("4500000123", "standard", "open", "100234", "EUR"),
        "4500000124": ("4500000124", "standard", "open", "100235", "EUR"),
        "4711": ("4711", "blanket", "open", "100234", "EUR"),
        "4500000125": ("4500000125", "standard", "cancelled", "100236", "EUR"),
    }
    assert _day(orders["4711"][5]) == date(2026, 2, 10) and orders["4711"][6] == "1000"

    lines = canonical_rows(wh, "po_line", "sap", "po_number", "line_number", "status", "qty_ordered", "unit_price",
                           "item_number", "is_service", "uom")
    assert {k: v[:3] for k, v in lines.items()} == {
        "4500000123|10": ("4500000123", "10", "open"), "4500000123|20": ("4500000123", "20", "open"),
        "4500000124|10": ("4500000124", "10", "received"), "4711|10": ("4711", "10", "closed"),
        "4500000125|10": ("4500000125", "10", "cancelled"),
    }
    # NET_PRICE is per PRICE_UNIT: 1500 per 100 pieces is 15 a piece
    assert (float(lines["4500000124|10"][3]), float(lines["4500000124|10"][4])) == (1000.0, 15.0)
    assert lines["4500000123|10"][5:] == ("100100", False, "ST")
    assert lines["4500000123|20"][5:7] == (None, True)

    receipts = canonical_rows(wh, "receipt", "sap", "receipt_id", "po_number", "line_number", "qty", "receipt_date",
                              "lot")
    by_id = {v[0]: (v[1], v[2], float(v[3]), _day(v[4]), v[5]) for v in receipts.values()}
    assert by_id == {
        "5000000001/2026/1": ("4500000123", "10", 10.0, date(2026, 3, 10), "B2026-07"),
        "5000000002/2026/1": ("4500000123", "10", -2.0, date(2026, 3, 11), "B2026-07"),  # reversal
        "5000000003/2026/2": ("4500000124", "10", 1000.0, date(2026, 3, 12), "B2026-07"),
    }

    invoices = canonical_rows(wh, "invoice_line", "sap", "invoice_number", "invoice_line", "po_number",
                              "line_number", "qty", "amount", "currency", "invoice_date")
    by_invoice = {(v[0], v[1]): (v[2], v[3], float(v[4]), float(v[5]), v[6], _day(v[7])) for v in invoices.values()}
    assert by_invoice == {
        ("5105600001/2026", "1"): ("4500000123", "10", 8.0, 2000.0, "EUR", date(2026, 3, 15)),
        ("5105600002/2026", "1"): ("4500000123", "10", -1.0, -250.0, "EUR", date(2026, 3, 16)),  # credit memo
    }

    quarantined = _quarantined(wh, "sap")
    assert {(stream, field) for (stream, _), (field, *_) in quarantined.items()} == {
        ("purchase_orders", "order_date"), ("po_items", "unit_price"), ("goods_receipts", "receipt_date"),
        ("invoice_receipts", "currency"),
    }
    assert ("po_items", "4500000124|20") in quarantined
    assert "no factor for the unit" in quarantined[("po_items", "4500000124|20")][1]


# ------------------------------------------------------------------ the command line


def test_shipped_erp_specs_pass_mappings_check(tmp_path):
    """Every shipped ERPNext, Epicor and SAP spec, through ``threadline mappings check``."""
    unused = tmp_path / "unused.sqlite"
    unused.touch()
    packages = {"erpnext": erp_packages.ERPNEXT_STREAMS, "epicor": erp_packages.EPICOR_STREAMS,
                "sap": erp_packages.SAP_STREAMS}
    shipped = {f"{folder}/{path.name}" for folder in packages for path in (SPECS / folder).glob("*.yaml")}
    assert shipped == {s["mapping"] for streams in packages.values() for s in streams}
    sources = [{"name": name, "kind": "sql", "role": "erp", "connection": {"url": f"sqlite:///{unused}"},
                "streams": streams} for name, streams in packages.items()]
    results = mappings_check(write_config(tmp_path, sources))
    assert len(results) == sum(len(streams) for streams in packages.values())
    assert all(r["problems"] == [] for r in results), results

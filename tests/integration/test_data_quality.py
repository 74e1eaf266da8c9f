"""The data-quality suites inside the real pipeline: real GX, the demo landscape, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from tests.integration.commands import run_local_sources
from tests.integration.readback import canonical_rows, stored_bookmark
from threadline.quality import SHIPPED_EXPECTATIONS
from threadline.warehouse import schema

UNIT_PRICE_CHECK = "gx:po_line:expect_column_values_to_be_between"


def _planted(landscape, rule_id: str) -> list[dict]:
    manifest = json.loads(landscape.manifest_path.read_text())
    return [d for d in manifest["defects"] if d["rule_id"] == rule_id]


def _suites_copy(tmp_path: Path) -> Path:
    """A plant's own copy of the shipped GX project, for a test to edit."""
    folder = tmp_path / "suites"
    shutil.copytree(SHIPPED_EXPECTATIONS, folder, ignore=shutil.ignore_patterns("uncommitted"))
    return folder


def _edit_expectation(folder: Path, suite: str, match, change) -> None:
    path = folder / "expectations" / f"{suite}.json"
    raw = json.loads(path.read_text())
    hits = [e for e in raw["expectations"] if match(e)]
    assert len(hits) == 1
    change(hits[0])
    path.write_text(json.dumps(raw, indent=2))


def _is_unit_price_check(expectation: dict) -> bool:
    return expectation["kwargs"].get("column") == "unit_price"


def test_the_planted_negative_prices_become_dq_exceptions_with_their_rows_and_the_rest_loads(landscape, steward):
    planted = _planted(landscape, "DQ-001")
    assert planted and all(d["source_system"] == "jde" and d["subject_entity"] == "po_line" for d in planted)

    summary = run_local_sources(steward)
    assert summary["findings_by_rule"]["DQ-001"] == len(planted)

    listed = json.loads(steward("exceptions", "list", "--rule", "DQ-001", "--json").stdout)
    assert sorted(e["exception_id"] for e in listed) == sorted(d["exception_id"] for d in planted)
    url = f"sqlite:///{landscape.out_dir / 'warehouse.sqlite'}"
    loaded = canonical_rows(url, "po_line", "jde", "po_number", "unit_price")
    for defect in planted:
        shown = json.loads(steward("exceptions", "show", defect["exception_id"], "--json").stdout)["exception"]
        evidence = shown["evidence"] if isinstance(shown["evidence"], dict) else json.loads(shown["evidence"])
        [row] = evidence["rows"]
        assert row["source_key"] == defect["source_key"] and row["unit_price"] < 0
        assert evidence["expectations"][0]["check"] == UNIT_PRICE_CHECK
        # the line is held back; the other lines of its purchase order are in the warehouse
        assert defect["source_key"] not in loaded
        assert [k for k, (po, _) in loaded.items() if po == row["po_number"]]

    held = json.loads(steward("quarantine", "list", "--source", "jde", "--stream", "po_lines", "--json").stdout)
    by_key = {q["source_key"]: q for q in held if q["check_name"] == UNIT_PRICE_CHECK}
    assert set(by_key) == {d["source_key"] for d in planted}
    assert all("unit price is not negative" in q["reason"] and q["field"] == "unit_price" for q in by_key.values())

    reports = landscape.out_dir / "reports"
    assert (reports / "data_docs" / "index.html").is_file()
    assert 'href="data_docs/index.html"' in (reports / "gap_report.html").read_text()


def test_a_fixed_row_clears_its_dq_exception(landscape, steward, tmp_path):
    """A steward who relaxes the expectation (the price was right after all) sees the rows load on the
    next full read and the exceptions resolve as cleared by data."""
    run_local_sources(steward)
    suites = _suites_copy(tmp_path)
    _edit_expectation(suites, "po_line", _is_unit_price_check, lambda e: e["kwargs"].update(min_value=-1000))
    with landscape.config_path.open("a") as config:
        config.write(f"expectations_dir: {suites}\n")
    done = steward("sync", "--source", "jde", "--full", "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run_local_sources(steward)
    listed = json.loads(steward("exceptions", "list", "--rule", "DQ-001", "--json").stdout)
    assert listed and {e["status"] for e in listed} == {"resolved"}


def _table_rows(url: str, table) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(table)).all())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_failed_critical_expectation_stops_the_load_and_leaves_warehouse_and_bookmark_as_they_were(
        landscape, pg_database, tmp_path):
    from threadline.config import load_config
    from threadline.pipeline import run_pipeline

    config = load_config(landscape.config_path)
    url = pg_database.url.render_as_string(hide_password=False)
    config.warehouse.url = url
    first = run_pipeline(config, sources=["jde"], reconcile=False)
    assert first.status == "succeeded", first.error
    lines_before = _table_rows(url, schema.CANONICAL_TABLES["po_line"])
    quarantine_before = _table_rows(url, schema.quarantine)
    bookmark_before = stored_bookmark(url, "jde", "po_lines")
    assert lines_before and bookmark_before

    # the steward makes "prices not negative" critical; a full read meets the planted lines again
    suites = _suites_copy(tmp_path)
    _edit_expectation(suites, "po_line", _is_unit_price_check, lambda e: e["meta"].update(critical=True))
    config.expectations_dir = suites
    second = run_pipeline(config, sources=["jde"], full=True, reconcile=False)

    assert second.status == "failed"
    assert "source 'jde', stream 'po_lines', batch 1" in second.error
    assert "critical expectation po_line #" in second.error
    assert "expect_column_values_to_be_between(unit_price) failed (unit price is not negative)" in second.error
    assert str(suites / "expectations" / "po_line.json") in second.error
    failed = {s.stream: s for s in second.streams}
    assert "po_lines" not in failed or failed["po_lines"].status == "failed"
    assert _table_rows(url, schema.CANONICAL_TABLES["po_line"]) == lines_before
    assert _table_rows(url, schema.quarantine) == quarantine_before
    assert stored_bookmark(url, "jde", "po_lines") == bookmark_before
    # the other streams of the source loaded; nothing was soft-deleted after the failed full read
    assert all(s.status == "succeeded" for s in second.streams if s.stream != "po_lines")


def test_check_and_run_refuse_a_broken_suite_naming_file_and_expectation(landscape, steward, tmp_path):
    suites = _suites_copy(tmp_path)
    _edit_expectation(suites, "po_line", _is_unit_price_check,
                      lambda e: e.update(type="expect_column_values_to_be_betwen"))
    _edit_expectation(suites, "work_order", lambda e: e["kwargs"].get("column") == "kind",
                      lambda e: e["kwargs"].update(column="kinds"))
    (suites / "expectations" / "receipt.json").write_text('{"name": "receipt", "expectations": [')
    with landscape.config_path.open("a") as config:
        config.write(f"expectations_dir: {suites}\n")

    checked = steward("check", "--json")
    assert checked.returncode == 1
    [entry] = [r for r in json.loads(checked.stdout) if r["kind"] == "suites"]
    problems = "\n".join(entry["problems"])
    assert len(entry["problems"]) == 3
    assert f"{suites / 'expectations' / 'po_line.json'}: expectation #" in problems
    assert "Great Expectations has no expectation type 'expect_column_values_to_be_betwen'" in problems
    assert "(did you mean expect_column_values_to_be_between" in problems
    assert "work_order has no column 'kinds'" in problems
    assert f"{suites / 'expectations' / 'receipt.json'}: not valid JSON" in problems

    ran = steward("run", "--source", "jde")
    assert ran.returncode == 2
    assert "problem(s) in the data-quality suites" in ran.stderr and "Traceback" not in ran.stderr
    assert not (landscape.out_dir / "warehouse.sqlite").exists() or stored_bookmark(
        f"sqlite:///{landscape.out_dir / 'warehouse.sqlite'}", "jde", "po_lines") is None


def test_a_po_line_whose_purchase_order_is_gone_is_a_dq_002_exception(landscape, steward):
    """The warehouse suite's query finds lines whose header their source no longer has (here a header
    soft-deleted by hand, as a full refresh would when the ERP lost it)."""
    first = run_local_sources(steward)
    # planted: the tasks of the work orders Maximo's mapping quarantines (their parent never loads)
    planted = sorted(d["source_key"] for d in _planted(landscape, "DQ-002"))
    assert first["findings_by_rule"]["DQ-002"] == len(planted)
    url = f"sqlite:///{landscape.out_dir / 'warehouse.sqlite'}"
    headers = schema.CANONICAL_TABLES["purchase_order"]
    lines = canonical_rows(url, "po_line", "jde", "po_number", "site")
    po_number, site = next(iter(lines.values()))
    orphans = sorted(k for k, (po, s) in lines.items() if (po, s) == (po_number, site))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(headers.update().where(headers.c.source_system == "jde", headers.c.po_number == po_number,
                                            headers.c.site == site).values(deleted_at=datetime(2026, 7, 1),
                                                                           deleted_run_id="by-hand"))
    engine.dispose()

    summary = run_local_sources(steward)
    assert summary["findings_by_rule"]["DQ-002"] == len(planted) + len(orphans)
    listed = [e for e in json.loads(steward("exceptions", "list", "--rule", "DQ-002", "--json").stdout)
              if e["subject_entity"] == "po_line"]
    assert sorted(e["subject_source_key"] for e in listed) == orphans
    assert {e["subject_source_system"] for e in listed} == {"jde"} and {e["po_number"] for e in listed} == {po_number}
    shown = json.loads(steward("exceptions", "show", listed[0]["exception_id"], "--json").stdout)["exception"]
    evidence = shown["evidence"] if isinstance(shown["evidence"], dict) else json.loads(shown["evidence"])
    assert evidence["row"]["po_number"] == po_number and "purchase_order" in evidence["query"]
    assert (landscape.out_dir / "reports" / "data_docs" / "warehouse" / "index.html").is_file()

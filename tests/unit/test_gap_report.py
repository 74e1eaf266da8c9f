"""The gap report: both files written, source text escaped, grouped by rule, top work orders."""

from __future__ import annotations

import csv
import datetime
import json
import re

import pandas as pd
import pytest

from reconciliation.catalogue import CATALOGUE
from reconciliation.costs import ROLLUP_COLUMNS
from reconciliation.exceptions import FINDING_COLUMNS, exception_id
from threadline.reports.gap import write_gap_report

SCRIPT = "<script>alert('owned')</script>"


def exception(rule_id: str, key: str, site: str = "NORTH", summary: str = "A gap.", **fields) -> dict:
    row = {column: None for column in FINDING_COLUMNS}
    row.update(
        exception_id=exception_id(rule_id, "po_line", "erp", key), rule_id=rule_id,
        severity=CATALOGUE[rule_id].severity, site=site, subject_entity="po_line", subject_source_system="erp",
        subject_source_key=key, po_number=key.split("|")[0], line_number=key.split("|")[-1], summary=summary,
        evidence=json.dumps({"records": [{"entity": "po_line", "source_system": "erp", "source_key": key}]}),
        status="open", first_seen_at=pd.Timestamp("2024-06-01 08:00"), last_seen_at=pd.Timestamp("2024-06-30 08:00"),
    )
    row.update(fields)
    return row


def rollup(count: int) -> pd.DataFrame:
    rows = []
    for n in range(count):
        actual = 100.0 * (n + 1)
        rows.append({
            "site": "NORTH", "wo_number": f"W{n:02d}", "wo_source_system": "mes", "wo_source_key": f"W{n:02d}",
            "kind": "production", "status": "released", "currency": "EUR", "labour_cost": actual, "material_cost": 0.0,
            "outside_cost": 0.0, "committed_cost": 0.0, "actual_cost": actual, "estimate_cost": 150.0,
            "variance": actual - 150.0, "variance_pct": (actual - 150.0) / 150.0 * 100, "incomplete": n == 3,
            "unconverted_lines": int(n == 3),
        })
    return pd.DataFrame(rows, columns=list(ROLLUP_COLUMNS))


@pytest.fixture
def report(tmp_path):
    exceptions = pd.DataFrame([
        exception("LNK-001", "4711|1", summary=f"PO 4711 line 1 names work order {SCRIPT}.",
                  evidence=json.dumps({"records": [{"entity": "po_line", "description": "<img src=x onerror=alert(1)>"}]})),
        exception("LNK-001", "4711|2", site="SOUTH", status="acknowledged"),
        exception("OSP-005", "4800|1", summary="=HYPERLINK(\"http://example.invalid\")"),
    ])
    run = {"run_id": "run-42", "finished_at": datetime.datetime(2024, 6, 30, 8, 15), "note": "<b>bold</b>"}
    paths = write_gap_report(exceptions, rollup(12), run=run, out_dir=tmp_path / "reports")
    return exceptions, paths


def test_writes_both_files(report, tmp_path):
    _, paths = report
    assert paths["html"] == tmp_path / "reports" / "gap_report.html"
    assert paths["csv"] == tmp_path / "reports" / "gap_report.csv"
    assert paths["html"].stat().st_size > 0 and paths["csv"].stat().st_size > 0


def test_html_escapes_everything_a_source_said(report):
    _, paths = report
    html = paths["html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_html_is_self_contained(report):
    _, paths = report
    html = paths["html"].read_text(encoding="utf-8")
    assert not re.search(r"<link\b", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<style>" in html


def test_html_groups_by_rule_with_catalogue_text_and_counts(report):
    exceptions, paths = report
    html = paths["html"].read_text(encoding="utf-8")
    for rule_id in ("LNK-001", "OSP-005"):
        assert CATALOGUE[rule_id].title in html
        assert f'id="{rule_id}"' in html
    assert "(2)" in html and "(1)" in html
    assert "run-42" in html and "2024-06-30 08:15" in html
    for exception_id_ in exceptions["exception_id"]:
        assert exception_id_ in html
    assert "acknowledged" in html
    assert "<details>" in html


def test_html_shows_the_ten_costliest_work_orders(report):
    _, paths = report
    html = paths["html"].read_text(encoding="utf-8")
    shown = re.findall(r"<td>(W\d\d)</td>", html)
    assert shown == [f"W{n:02d}" for n in range(11, 1, -1)]


def test_csv_has_one_row_per_exception_and_defuses_formulas(report):
    exceptions, paths = report
    with paths["csv"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(exceptions)
    assert set(FINDING_COLUMNS) <= set(rows[0])
    assert {r["exception_id"] for r in rows} == set(exceptions["exception_id"])
    by_key = {r["subject_source_key"]: r for r in rows}
    assert by_key["4800|1"]["summary"].startswith("'=")
    assert SCRIPT in by_key["4711|1"]["summary"]
    # errors come before warnings
    assert [r["rule_id"] for r in rows] == ["LNK-001", "LNK-001", "OSP-005"]


def test_an_empty_run_still_writes_a_report(tmp_path):
    columns = (*FINDING_COLUMNS, "status", "first_seen_at", "last_seen_at")
    empty = pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
    paths = write_gap_report(empty, rollup(0), run={"run_id": "r0"}, out_dir=tmp_path)
    assert "No exceptions" in paths["html"].read_text(encoding="utf-8")
    assert paths["csv"].read_text(encoding="utf-8").startswith("exception_id,")


def test_missing_columns_are_named(tmp_path):
    with pytest.raises(ValueError, match="first_seen_at"):
        write_gap_report(pd.DataFrame([exception("LNK-001", "1|1")]).drop(columns="first_seen_at"), rollup(1),
                         run={"run_id": "r"}, out_dir=tmp_path)


def test_the_data_docs_that_exist_are_linked_relative_to_the_report(tmp_path):
    docs = tmp_path / "reports" / "data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html></html>")
    empty = pd.DataFrame(columns=[*FINDING_COLUMNS, "status", "first_seen_at", "last_seen_at"])
    paths = write_gap_report(empty, rollup(0), run={"run_id": "r0"}, out_dir=tmp_path / "reports",
                             data_docs={"batches": docs / "index.html", "warehouse": docs / "warehouse" / "index.html"})
    html = paths["html"].read_text()
    assert '<a href="data_docs/index.html">batches</a>' in html
    assert "warehouse" not in html  # not built, so not linked

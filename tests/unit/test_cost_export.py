"""The cost export: a sheet (or CSV file) per grain and the drill-down, figures as the warehouse holds them."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from reconciliation.costs import GRAINS
from tests.unit.report_warehouse import reconciled_warehouse
from tests.unit.test_costs import plant_frames
from threadline.reports import costs as cost_export
from threadline.reports.costs import (
    DRILLDOWN_COLUMNS, GRAIN_KEYS, NoRollupError, costs_csv_zip, costs_xlsx, read_cost_export, write_costs_csv,
    write_costs_xlsx,
)
from threadline.warehouse import schema


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    frames = plant_frames()
    # text a source wrote that a spreadsheet would run as a formula
    frames["labour_entry"] = frames["labour_entry"].assign(
        source_key=frames["labour_entry"]["source_key"].str.replace("^", "=HYPERLINK(\"x\")", regex=True))
    return reconciled_warehouse(tmp_path_factory.mktemp("costs") / "warehouse.sqlite", frames)


def current_rollup(warehouse) -> pd.DataFrame:
    table = schema.cost_rollup
    with warehouse.engine.connect() as conn:
        return pd.read_sql(select(table).where(table.c.is_current.is_(True)), conn)


@pytest.fixture(scope="module")
def workbook(warehouse):
    return openpyxl.load_workbook(io.BytesIO(costs_xlsx(warehouse)))


def sheet_rows(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_a_sheet_per_grain_then_the_drilldown(workbook):
    assert workbook.sheetnames == [*GRAINS, "drilldown"]
    for grain in GRAINS:
        header = [c.value for c in workbook[grain][1]]
        assert header[:len(GRAIN_KEYS[grain])] == list(GRAIN_KEYS[grain])
        assert "actual_cost" in header and "variance_pct" in header and header[-1] == "rollup_row_id"
    assert [c.value for c in workbook["drilldown"][1]] == list(DRILLDOWN_COLUMNS)


def test_every_grains_rows_and_totals_match_the_warehouse(workbook, warehouse):
    rollup = current_rollup(warehouse)
    for grain in GRAINS:
        expected = rollup[rollup["grain"] == grain]
        rows = sheet_rows(workbook[grain])
        assert len(rows) == len(expected) > 0, grain
        for column in ("actual_cost", "labour_cost", "outside_cost", "committed_cost"):
            assert sum(r[column] or 0 for r in rows) == pytest.approx(expected[column].fillna(0).sum()), (grain, column)
        assert {r["rollup_row_id"] for r in rows} == set(expected["rollup_row_id"])


def test_drilldown_pairs_each_row_with_its_cost_lines(workbook, warehouse):
    with warehouse.engine.connect() as conn:
        pairs = pd.read_sql(select(schema.cost_drilldown), conn)
    rows = sheet_rows(workbook["drilldown"])
    assert {(r["rollup_row_id"], r["line_id"]) for r in rows} == set(zip(pairs["rollup_row_id"], pairs["line_id"]))
    wo_rows = {r["rollup_row_id"]: r for r in sheet_rows(workbook["wo"])}
    for wo_row_id, wo_row in wo_rows.items():
        lines = [r for r in rows if r["rollup_row_id"] == wo_row_id]
        assert all(r["grain"] == "wo" for r in lines)
        assert len(lines) == wo_row["cost_lines"]
        actual = sum(r["amount"] or 0 for r in lines if r["cost_type"] != "committed")
        assert actual == pytest.approx(wo_row["actual_cost"] or 0)


def test_header_styled_panes_frozen_money_formatted(workbook):
    sheet = workbook["wo"]
    header = [c.value for c in sheet[1]]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    actual = sheet.cell(row=2, column=header.index("actual_cost") + 1)
    assert actual.number_format == "#,##0.00" and isinstance(actual.value, (int, float))
    as_of = sheet.cell(row=2, column=header.index("as_of") + 1)
    assert as_of.number_format == "yyyy-mm-dd" and as_of.value.date().isoformat() == "2024-06-30"
    assert sheet.column_dimensions["B"].width >= len("wo_number")


def test_source_text_that_looks_like_a_formula_stays_text(workbook):
    keys = [r["source_key"] for r in sheet_rows(workbook["drilldown"]) if r["entity"] == "labour_entry"]
    assert keys and all(k.startswith('=HYPERLINK("x")') for k in keys)
    for row in workbook["drilldown"].iter_rows(min_row=2):
        assert all(cell.data_type != "f" for cell in row)


def test_a_grain_longer_than_a_sheet_continues_on_the_next(warehouse, monkeypatch, tmp_path):
    monkeypatch.setattr(cost_export, "XLSX_MAX_ROWS", 3)
    export = read_cost_export(warehouse, drilldown=False)
    write_costs_xlsx(export, tmp_path / "costs.xlsx")
    book = openpyxl.load_workbook(tmp_path / "costs.xlsx")
    operations = len(export.grains["operation"])
    parts = [n for n in book.sheetnames if n == "operation" or n.startswith("operation (")]
    assert len(parts) == -(-operations // 3) > 1
    assert sum(book[n].max_row - 1 for n in parts) == operations


def test_csv_files_and_zip_hold_the_same_rows(warehouse, tmp_path):
    export = read_cost_export(warehouse)
    paths = write_costs_csv(export, tmp_path / "csv")
    assert [p.name for p in paths] == [f"costs_{g}.csv" for g in (*GRAINS, "drilldown")]
    rollup = current_rollup(warehouse)
    with (tmp_path / "csv" / "costs_wo.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = rollup[rollup["grain"] == "wo"]
    assert len(rows) == len(expected)
    assert sum(float(r["actual_cost"] or 0) for r in rows) == pytest.approx(expected["actual_cost"].sum())
    drilldown = (tmp_path / "csv" / "costs_drilldown.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in drilldown  # quoted: a spreadsheet opening the CSV must not run it
    with zipfile.ZipFile(io.BytesIO(costs_csv_zip(warehouse))) as archive:
        assert archive.namelist() == [p.name for p in paths]
        assert archive.read("costs_wo.csv").decode() == (tmp_path / "csv" / "costs_wo.csv").read_text(encoding="utf-8")


def test_without_a_rollup_the_error_says_what_to_run(tmp_path):
    from threadline.warehouse.store import open_warehouse

    empty = open_warehouse(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(NoRollupError, match="threadline run"):
        read_cost_export(empty)


def test_an_unknown_run_is_named(warehouse):
    with pytest.raises(NoRollupError, match="run R-missing"):
        read_cost_export(warehouse, run_id="R-missing")
    assert read_cost_export(warehouse, run_id="R1", drilldown=False).run_id == "R1"

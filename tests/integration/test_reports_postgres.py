"""The reports on a PostgreSQL warehouse read the same figures and records as on SQLite."""

from __future__ import annotations

import io

import lxml.html
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from reconciliation.catalogue import CATALOGUE
from tests.unit.report_warehouse import reconciled_warehouse
from tests.unit.test_costs import plant_frames
from threadline.reports.costs import costs_xlsx, read_cost_export
from threadline.reports.evidence import evidence_pack_html
from threadline.reports.gap import gap_report_csv, parse_period
from threadline.warehouse import schema

pytestmark = pytest.mark.postgres


@pytest.fixture()
def warehouses(pg_database, tmp_path):
    frames = plant_frames()
    postgres = reconciled_warehouse(pg_database.url.render_as_string(hide_password=False), frames)
    sqlite = reconciled_warehouse(tmp_path / "warehouse.sqlite", frames)
    yield postgres, sqlite
    postgres.dispose()
    sqlite.dispose()


def test_cost_export_reads_the_same_roll_up(warehouses):
    postgres, sqlite = warehouses
    on_pg, on_sqlite = read_cost_export(postgres), read_cost_export(sqlite)
    for (name, pg_frame), (_, sqlite_frame) in zip(on_pg.sheets(), on_sqlite.sheets()):
        assert len(pg_frame) == len(sqlite_frame) > 0, name
        for column in ("actual_cost", "amount"):
            if column in pg_frame:
                assert pg_frame[column].sum() == pytest.approx(sqlite_frame[column].sum()), (name, column)
        if "as_of" in pg_frame:
            assert pd.api.types.is_datetime64_any_dtype(pg_frame["as_of"])
    book = openpyxl.load_workbook(io.BytesIO(costs_xlsx(postgres)), read_only=True)
    rows = list(book["wo"].iter_rows(values_only=True))
    table = schema.cost_rollup
    with postgres.engine.connect() as conn:
        expected = pd.read_sql(select(table.c.actual_cost).where(table.c.grain == "wo"), conn)
    index = rows[0].index("actual_cost")
    assert sum(r[index] or 0 for r in rows[1:]) == pytest.approx(expected["actual_cost"].sum())


def test_evidence_pack_and_gap_report_read_the_same_records(warehouses):
    postgres, sqlite = warehouses

    pg_doc = lxml.html.fromstring(evidence_pack_html(postgres, "1001", site="NORTH", rules_run=list(CATALOGUE)))
    sqlite_doc = lxml.html.fromstring(evidence_pack_html(sqlite, "1001", site="NORTH", rules_run=list(CATALOGUE)))
    for anchor in ("operations", "po-lines", "receipts", "invoices", "costs", "cost-lines", "checks"):
        def rows(doc):
            return [[td.text_content() for td in tr.findall("td") if "lineage" not in (td.get("class") or "")]
                    for tr in doc.get_element_by_id(anchor).iter("tr") if tr.findall("td")]
        pg_rows, sqlite_rows = rows(pg_doc), rows(sqlite_doc)
        assert len(pg_rows) == len(sqlite_rows), anchor
        if anchor not in ("costs", "cost-lines", "checks"):  # run-stamped columns differ only there
            assert pg_rows == sqlite_rows, anchor
    period = parse_period()
    pg_csv, sqlite_csv = gap_report_csv(postgres, period), gap_report_csv(sqlite, period)
    assert pg_csv.count("\n") == sqlite_csv.count("\n") > 1

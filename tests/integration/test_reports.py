"""`threadline report ...` on the demo landscape: the files the auditors and accountants open."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from tests.integration.commands import LOCAL_SOURCES, threadline
from threadline.config import load_config
from threadline.demo.landscape import build_landscape
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

openpyxl = pytest.importorskip("openpyxl")

GRAINS = ["operation", "wo", "asset", "item", "site", "cost_centre", "supplier", "month"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo landscape (60 work orders) after one run over its local sources; a CLI bound to its config."""
    built = build_landscape(tmp_path_factory.mktemp("reports") / "demo", scale=60)

    def cli(*args: str):
        return threadline("--config", built.config_path, *args, env=built.env)

    done = cli("run", *LOCAL_SOURCES, "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    warehouse = open_warehouse(load_config(built.config_path, check_specs=False).warehouse.resolved_url(),
                               migrate=False)
    yield built, cli, warehouse
    warehouse.dispose()


def test_cost_export_xlsx_matches_the_warehouse_roll_up(demo, tmp_path):
    _, cli, warehouse = demo
    target = tmp_path / "costs.xlsx"
    done = cli("report", "costs", "--out", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(target) in done.stdout

    book = openpyxl.load_workbook(target, read_only=True)
    assert book.sheetnames == [*GRAINS, "drilldown"]
    table = schema.cost_rollup
    with warehouse.engine.connect() as conn:
        rollup = pd.read_sql(select(table).where(table.c.is_current.is_(True)), conn)
    for grain in GRAINS:
        header = next(book[grain].iter_rows(max_row=1, values_only=True))
        assert header[0] == "site" and "actual_cost" in header and "rollup_row_id" in header
    rows = list(book["wo"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    expected = rollup[rollup["grain"] == "wo"]
    assert len(body) == len(expected) > 0
    for column in ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost"):
        index = header.index(column)
        assert sum(r[index] or 0 for r in body) == pytest.approx(expected[column].fillna(0).sum(), abs=0.01), column
    book.close()


def test_cost_export_csv_folder_and_zip(demo, tmp_path):
    _, cli, _ = demo
    done = cli("report", "costs", "--format", "csv", "--out", str(tmp_path / "csv"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(
        f"costs_{g}.csv" for g in (*GRAINS, "drilldown"))
    done = cli("report", "costs", "--format", "zip", "--no-drilldown", "--out", str(tmp_path / "costs.zip"))
    assert done.returncode == 0, done.stdout + done.stderr
    import zipfile

    with zipfile.ZipFile(tmp_path / "costs.zip") as archive:
        assert archive.namelist() == [f"costs_{g}.csv" for g in GRAINS]
    done = cli("report", "costs", "--run", "R-none")
    assert done.returncode == 2 and "no cost roll-up of run R-none" in done.stderr


def _no_external_references(doc) -> None:
    import re

    assert not doc.xpath("//script | //link | //img | //iframe")
    for element in doc.iter():
        for attribute in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", element.get(attribute) or ""), element.get(attribute)


def test_gap_report_of_this_month_lists_every_standing_gap(demo, tmp_path):
    import csv

    import lxml.html

    _, cli, warehouse = demo
    done = cli("report", "gap", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    html_path, csv_path = sorted(tmp_path.glob("gap_report_*.html")), sorted(tmp_path.glob("gap_report_*.csv"))
    assert len(html_path) == len(csv_path) == 1
    exceptions = warehouse.read_table(schema.exception)
    standing = exceptions[exceptions["status"].isin(["open", "acknowledged", "waived"])]
    assert len(standing) > 0
    with csv_path[0].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["exception_id"] for r in rows} == set(standing["exception_id"])
    doc = lxml.html.fromstring(html_path[0].read_text(encoding="utf-8"))
    _no_external_references(doc)
    assert {d.get("id") for d in doc.xpath("//div[contains(@class, 'rule-page')]")} == set(standing["rule_id"])

    done = cli("report", "gap", "--period", "2020-01", "--site", "NORTH", "--format", "csv", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "gap_report_2020-01_NORTH.csv").read_text(encoding="utf-8").count("\n") == 1  # header only


def test_evidence_pack_of_a_work_order_with_a_gap(demo, tmp_path):
    import lxml.html

    _, cli, warehouse = demo
    exceptions = warehouse.read_table(schema.exception)
    about_wo = exceptions.dropna(subset=["wo_number"]).sort_values("exception_id").iloc[0]
    done = cli("report", "evidence", about_wo["wo_number"], "--site", about_wo["site"], "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    path = next(tmp_path.glob("evidence_*.html"))
    doc = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    _no_external_references(doc)
    assert about_wo["wo_number"] in doc.findtext(".//h1")
    assert about_wo["exception_id"] in doc.text_content()
    verdicts = {tr.findall("td")[0].text_content(): tr.findall("td")[3].text_content()
                for tr in doc.get_element_by_id("checks").iter("tr") if len(tr.findall("td")) == 5}
    if about_wo["status"] in ("open", "acknowledged"):
        assert verdicts[about_wo["rule_id"]] == "failed"

    done = cli("report", "evidence", "NO-SUCH-WO")
    assert done.returncode == 2 and "no work order 'NO-SUCH-WO'" in done.stderr

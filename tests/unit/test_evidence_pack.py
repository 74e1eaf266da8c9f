"""The evidence pack of one work order: its records as the warehouse holds them, costs, checks, escaping."""

from __future__ import annotations

import re

import lxml.html
import pandas as pd
import pytest
from sqlalchemy import select

from reconciliation.catalogue import CATALOGUE
from reconciliation.frames import frame_from_rows
from tests.unit.report_warehouse import reconciled_warehouse
from tests.unit.test_costs import plant_frames
from threadline.exceptions import waive
from threadline.reports.evidence import (
    AmbiguousWorkOrderError, WorkOrderNotFoundError, evidence_pack_html, write_evidence_pack,
)
from threadline.warehouse import schema

SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    frames = plant_frames()
    wos = frames["work_order"].copy()
    wos["description"] = pd.array([f"Gearbox {SCRIPT}", None, None], dtype="string[pyarrow]")
    # the same number at another site: 1002 is ambiguous without --site
    south = frame_from_rows("work_order", [{"source_system": "cmms", "source_key": "S-1002", "wo_number": "1002",
                                            "site": "SOUTH", "kind": "maintenance", "status": "released"}])
    frames["work_order"] = pd.concat([wos, south], ignore_index=True)
    lines = frames["po_line"].copy()
    lines["description"] = pd.array(["<img src=x onerror=alert(1)>", None, None, None], dtype="string[pyarrow]")
    frames["po_line"] = lines
    receipts = frames["receipt"].copy()
    receipts["certificate_ref"] = pd.array(["COC-77", None], dtype="string[pyarrow]")
    receipts["lot"] = pd.array(["LOT-9", None], dtype="string[pyarrow]")
    frames["receipt"] = receipts
    return reconciled_warehouse(tmp_path_factory.mktemp("evidence") / "warehouse.sqlite", frames)


@pytest.fixture(scope="module")
def page(warehouse):
    html = evidence_pack_html(warehouse, "1001", site="NORTH", rules_run=list(CATALOGUE))
    return html, lxml.html.fromstring(html)


def section_rows(doc, anchor: str) -> list[list[str]]:
    section = doc.get_element_by_id(anchor)
    return [[td.text_content() for td in tr.findall("td")] for tr in section.iter("tr") if tr.findall("td")]


def section_header(doc, anchor: str) -> list[str]:
    return [th.text_content() for th in doc.get_element_by_id(anchor).iter("th")]


def test_source_text_is_escaped_and_the_page_is_self_contained(page):
    html, doc = page
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert "<img" not in html
    assert not doc.xpath("//script | //link | //img | //iframe")
    for element in doc.iter():
        for attribute in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", element.get(attribute) or ""), element.get(attribute)
    assert doc.xpath("//style")


def test_records_match_the_warehouse_with_their_source_ids(page, warehouse):
    _, doc = page
    operations = warehouse.read_table(schema.CANONICAL_TABLES["wo_operation"])
    rows = section_rows(doc, "operations")
    assert len(rows) == int((operations["wo_number"] == "1001").sum()) == 1
    header = section_header(doc, "operations")
    row = dict(zip(header, rows[0]))
    assert (row["source_system"], row["source_key"], row["run_id"]) == ("mes", "1001-40", "R1")
    assert row["extracted_at"].startswith("2024-06-30 06:00")

    lines = dict(zip(section_header(doc, "po-lines")[:2], zip(*[r[:2] for r in section_rows(doc, "po-lines")])))
    assert sorted(lines["line_number"]) == ["1", "2", "3", "4"]  # from the PO line, the operation, the WO, a link
    linked_by = {r[1]: r[3] for r in section_rows(doc, "po-lines")}
    assert "PO line names it" in linked_by["1"] and "operation 40" in linked_by["2"]
    assert "work order" in linked_by["3"] and "wo_po_link confirmed by jane" in linked_by["3"]
    assert len(section_rows(doc, "receipts")) == 2 and len(section_rows(doc, "invoices")) == 1
    assert [r[0] for r in section_rows(doc, "certificates")] == ["COC-77"]
    assert any(r[2] == "LOT-9" for r in section_rows(doc, "lots"))
    assert len(section_rows(doc, "labour")) == 3 and len(section_rows(doc, "material")) == 2


def test_costs_show_the_current_roll_up_and_its_lines(page, warehouse):
    _, doc = page
    table = schema.cost_rollup
    with warehouse.engine.connect() as conn:
        wo_row = pd.read_sql(select(table).where(table.c.grain == "wo", table.c.wo_number == "1001"), conn).iloc[0]
    header = section_header(doc, "costs")
    rows = [dict(zip(header, r)) for r in section_rows(doc, "costs")]
    wo = next(r for r in rows if r["grain"] == "wo")
    assert wo["actual_cost"] == f"{wo_row['actual_cost']:,.2f}"
    assert {r["op_seq"] for r in rows if r["grain"] == "operation"} >= {"10", "20"}
    assert len(section_rows(doc, "cost-lines")) == wo_row["cost_lines"]


def test_checks_list_failed_rules_with_history_and_the_rest_as_passed(page, warehouse):
    _, doc = page
    exceptions = warehouse.read_table(schema.exception)
    mine = exceptions[(exceptions["site"] == "NORTH") & ((exceptions["wo_number"] == "1001")
                                                         | (exceptions["po_number"] == "4711"))]
    assert len(mine) > 0
    verdicts = {r[0]: r[3] for r in section_rows(doc, "checks") if len(r) == 5}
    assert set(verdicts) == set(CATALOGUE)
    failed = set(mine.loc[mine["status"].isin(["open", "acknowledged"]), "rule_id"])
    assert {r for r, v in verdicts.items() if v == "failed"} == failed
    assert all(v == "passed" for r, v in verdicts.items() if r not in failed)
    html = lxml.html.tostring(doc, encoding="unicode")
    for exception_id in mine["exception_id"]:
        assert exception_id in html
    assert "found by run R1" in html  # each exception's event history


def test_a_waived_exception_makes_the_rule_waived(warehouse, tmp_path):
    exceptions = warehouse.read_table(schema.exception)
    mine = exceptions[(exceptions["wo_number"] == "1001") & (exceptions["status"] == "open")]
    rule_id = mine["rule_id"].iloc[0]
    others_open = exceptions[(exceptions["rule_id"] == rule_id) & (exceptions["status"] == "open")
                             & ((exceptions["wo_number"] == "1001") | (exceptions["po_number"] == "4711"))]
    import datetime

    waive(warehouse, list(others_open["exception_id"]), justification="agreed <b>with</b> finance",
          until=datetime.date.today() + datetime.timedelta(days=30), actor="alice")
    html = evidence_pack_html(warehouse, "1001", site="NORTH", rules_run=list(CATALOGUE))
    doc = lxml.html.fromstring(html)
    verdicts = {r[0]: r[3] for r in section_rows(doc, "checks") if len(r) == 5}
    assert verdicts[rule_id] == "waived"
    assert "agreed &lt;b&gt;with&lt;/b&gt; finance" in html and "alice" in html


def test_an_unknown_work_order_is_named(warehouse):
    with pytest.raises(WorkOrderNotFoundError, match="no work order '9999'"):
        evidence_pack_html(warehouse, "9999")
    with pytest.raises(WorkOrderNotFoundError, match="'1001' at site 'SOUTH'.*exists at NORTH"):
        evidence_pack_html(warehouse, "1001", site="SOUTH")


def test_a_number_at_two_sites_needs_the_site(warehouse, tmp_path):
    with pytest.raises(AmbiguousWorkOrderError, match="'1002' exists at 2 sites \\(NORTH, SOUTH\\).*--site"):
        evidence_pack_html(warehouse, "1002")
    path = write_evidence_pack(warehouse, "1002", site="SOUTH", out=tmp_path)
    assert path == tmp_path / "evidence_SOUTH_1002.html"
    doc = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    assert section_rows(doc, "work-order")[0][0] == "1002"
    assert "S-1002" in doc.text_content()

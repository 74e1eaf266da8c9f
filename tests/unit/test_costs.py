"""The work-order cost roll-up on a small example computed by hand.

Reporting currency EUR. USD->EUR is 0.90 from 2024-01-01 and 0.80 from 2024-03-01; GBP is only
quoted as EUR->GBP 0.80 (so 1 GBP = 1.25 EUR).
"""

from __future__ import annotations

import datetime
import json

import pandas as pd
import pytest

from reconciliation.costs import COST_LINE_COLUMNS, GRAINS, ROLLUP_COLUMNS, AssetHierarchyError, uom_factors
from reconciliation.engine import ReconcileSettings, reconcile
from reconciliation.frames import frame_from_rows

USD_JAN, USD_MAR, GBP = 0.90, 0.80, 1 / 0.80


def erp(rows):
    return [{"source_system": "erp", **row} for row in rows]


def mes(rows):
    return [{"source_system": "mes", **row} for row in rows]


def example_frames() -> dict[str, pd.DataFrame]:
    tables = {
        "fx_rate": erp([
            {"source_key": "USD-1", "from_currency": "USD", "to_currency": "EUR", "effective_date": "2024-01-01",
             "rate": USD_JAN},
            {"source_key": "USD-3", "from_currency": "USD", "to_currency": "EUR", "effective_date": "2024-03-01",
             "rate": USD_MAR},
            {"source_key": "GBP-1", "from_currency": "EUR", "to_currency": "GBP", "effective_date": "2024-01-01",
             "rate": 0.80},
        ]),
        "uom_conversion": erp([{"source_key": "BOX-EA", "from_uom": "BOX", "to_uom": "EA", "factor": 2}]),
        "item": erp([{"source_key": "I-1", "item_number": "I-1", "standard_cost": 25, "currency": "USD"}]),
        "work_order": mes([
            {"source_key": "WO-1001", "wo_number": "1001", "site": "NORTH", "kind": "production", "status": "released",
             "currency": "EUR", "created_date": "2024-01-02", "estimate_labour": 500, "estimate_material": 200,
             "estimate_outside": 300, "po_ref": "4711", "po_line_ref": "3"},
            {"source_key": "WO-1002", "wo_number": "1002", "site": "NORTH", "kind": "maintenance", "status": "closed",
             "currency": "USD", "created_date": "2024-02-01", "estimate_labour": 100},
            {"source_key": "WO-1003", "wo_number": "1003", "site": "NORTH", "kind": "maintenance", "status": "planned",
             "estimate_labour": 0},
        ]),
        "wo_operation": mes([
            {"source_key": "1001-40", "wo_number": "1001", "op_seq": "40", "site": "NORTH", "status": "released",
             "is_outside_processing": True, "po_ref": "4711", "po_line_ref": "2"},
        ]),
        "wo_po_link": [
            {"source_system": "steward", "source_key": "L1", "wo_number": "1001", "po_number": "4711", "line_number": "3",
             "site": "NORTH", "asserted_by": "jane", "status": "confirmed"},
            {"source_system": "steward", "source_key": "L2", "wo_number": "1001", "po_number": "4711", "line_number": "4",
             "site": "NORTH", "asserted_by": "jane", "status": "confirmed"},
        ],
        "labour_entry": mes([
            {"source_key": "L-1", "entry_id": "L-1", "wo_number": "1001", "op_seq": "10", "site": "NORTH", "hours": 4,
             "rate": 50, "currency": "EUR", "entry_date": "2024-01-15"},
            {"source_key": "L-2", "entry_id": "L-2", "wo_number": "1001", "op_seq": "10", "site": "NORTH", "hours": 2,
             "rate": 100, "currency": "USD", "entry_date": "2024-02-15"},
            {"source_key": "L-3", "entry_id": "L-3", "wo_number": "1001", "op_seq": "20", "site": "NORTH", "hours": 1,
             "rate": 100, "currency": "USD", "entry_date": "2024-03-15"},
            {"source_key": "L-4", "entry_id": "L-4", "wo_number": "1002", "site": "NORTH", "hours": 2, "rate": 10,
             "entry_date": "2024-02-10"},
            {"source_key": "L-5", "entry_id": "L-5", "wo_number": "1002", "site": "NORTH", "hours": 1, "rate": 40,
             "currency": "GBP", "entry_date": "2024-02-10"},
            {"source_key": "L-6", "entry_id": "L-6", "wo_number": "1002", "site": "NORTH", "hours": 1, "rate": 1000,
             "currency": "JPY", "entry_date": "2024-02-10"},
        ]),
        "material_issue": mes([
            {"source_key": "M-1", "issue_id": "M-1", "wo_number": "1001", "site": "NORTH", "item_number": "I-1", "qty": 3,
             "unit_cost": 10, "currency": "EUR", "issue_date": "2024-02-01"},
            {"source_key": "M-2", "issue_id": "M-2", "wo_number": "1001", "site": "NORTH", "item_number": "I-1", "qty": 2,
             "issue_date": "2024-02-01"},
        ]),
        "purchase_order": erp([
            {"source_key": "4711", "po_number": "4711", "site": "NORTH", "currency": "EUR", "status": "open",
             "order_date": "2024-01-10"},
        ]),
        "po_line": erp([
            # invoiced (USD, March rate) and partly received: outside = invoice, committed = (10 - 5) x 20
            {"source_key": "4711|1", "po_number": "4711", "line_number": "1", "site": "NORTH", "status": "open",
             "wo_ref": "1001", "op_ref": "30", "uom": "EA", "qty_ordered": 10, "unit_price": 20},
            # named by operation 40, received in BOX (2 EA each): outside = 2 x 30, committed = (4 - 2) x 30
            {"source_key": "4711|2", "po_number": "4711", "line_number": "2", "site": "NORTH", "status": "open",
             "uom": "EA", "qty_ordered": 4, "unit_price": 30},
            # named by the WO and by a link, closed, nothing received or invoiced: contributes nothing
            {"source_key": "4711|3", "po_number": "4711", "line_number": "3", "site": "NORTH", "status": "closed",
             "uom": "EA", "qty_ordered": 1, "unit_price": 500},
            # named by the PO line and by a link: committed 2 x 100, counted once
            {"source_key": "4711|4", "po_number": "4711", "line_number": "4", "site": "NORTH", "status": "open",
             "wo_ref": "1001", "uom": "EA", "qty_ordered": 2, "unit_price": 100},
        ]),
        "receipt": erp([
            {"source_key": "R-1", "receipt_id": "R-1", "po_number": "4711", "line_number": "1", "site": "NORTH", "qty": 5,
             "uom": "EA", "receipt_date": "2024-02-20"},
            {"source_key": "R-2", "receipt_id": "R-2", "po_number": "4711", "line_number": "2", "site": "NORTH", "qty": 1,
             "uom": "BOX", "receipt_date": "2024-02-20"},
        ]),
        "invoice_line": erp([
            {"source_key": "INV-1|1", "invoice_number": "INV-1", "invoice_line": "1", "po_number": "4711", "line_number": "1",
             "site": "NORTH", "amount": 150, "currency": "USD", "invoice_date": "2024-03-05"},
        ]),
    }
    return {name: frame_from_rows(name, rows) for name, rows in tables.items()}


@pytest.fixture(scope="module")
def result():
    return reconcile(example_frames(), ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))


def wo(result, number: str) -> pd.Series:
    rows = result.wo_rollup[result.wo_rollup["wo_number"] == number]
    assert len(rows) == 1
    return rows.iloc[0]


def test_layout(result):
    assert tuple(result.rollup.columns) == ROLLUP_COLUMNS
    assert tuple(result.cost_lines.columns) == COST_LINE_COLUMNS
    assert list(result.wo_rollup["wo_number"]) == ["1001", "1002", "1003"]
    assert (result.rollup["currency"] == "EUR").all()


def test_labour_at_each_lines_own_rate(result):
    assert wo(result, "1001")["labour_cost"] == pytest.approx(4 * 50 + 2 * 100 * USD_JAN + 1 * 100 * USD_MAR)
    lines = result.cost_lines.set_index("source_key")
    assert lines.at["L-2", "fx_rate"] == pytest.approx(USD_JAN)
    assert lines.at["L-3", "fx_rate"] == pytest.approx(USD_MAR)
    assert lines.at["L-1", "fx_rate"] == 1.0


def test_material_falls_back_to_standard_cost_in_the_items_currency(result):
    assert wo(result, "1001")["material_cost"] == pytest.approx(3 * 10 + 2 * 25 * USD_JAN)
    m2 = result.cost_lines.set_index("source_key").loc["M-2"]
    assert m2["currency_source"] == "USD" and m2["amount_source"] == pytest.approx(50)


def test_outside_is_invoiced_amount_else_received_value(result):
    row = wo(result, "1001")
    invoiced = 150 * USD_MAR
    received = 1 * 2 * 30
    assert row["outside_cost"] == pytest.approx(invoiced + received)
    outside = result.cost_lines[(result.cost_lines["wo_number"] == "1001") & (result.cost_lines["cost_type"] == "outside")]
    # the receipt of the invoiced line is not counted a second time
    assert sorted(outside["source_key"]) == ["INV-1|1", "R-2"]
    assert outside.set_index("source_key").at["INV-1|1", "op_seq"] == "30"
    assert outside.set_index("source_key").at["R-2", "op_seq"] == "40"


def test_committed_is_open_quantity_and_each_line_counts_once(result):
    row = wo(result, "1001")
    assert row["committed_cost"] == pytest.approx((10 - 5) * 20 + (4 - 2) * 30 + 2 * 100)
    committed = result.cost_lines[(result.cost_lines["wo_number"] == "1001") & (result.cost_lines["cost_type"] == "committed")]
    assert sorted(committed["source_key"]) == ["4711|1", "4711|2", "4711|4"]
    assert (committed["line_date"] == pd.Timestamp("2024-01-10")).all()


def test_material_bought_for_a_work_order_is_costed_when_issued_not_also_as_outside_service():
    """A part line (an item, not a service, paying no outside processor) linked to the WO: its receipt
    and invoice are not outside cost (the issue of the part is the material cost), its open quantity is
    committed; a service line linked the same way stays outside cost."""
    frames = example_frames()
    extra_lines = frame_from_rows("po_line", erp([
        {"source_key": "4712|1", "po_number": "4712", "line_number": "1", "site": "NORTH", "status": "open",
         "wo_ref": "1002", "item_number": "I-1", "uom": "EA", "qty_ordered": 4, "unit_price": 12},
        {"source_key": "4712|2", "po_number": "4712", "line_number": "2", "site": "NORTH", "status": "closed",
         "wo_ref": "1002", "is_service": True, "uom": "EA", "qty_ordered": 1, "unit_price": 80},
    ]))
    extra_receipts = frame_from_rows("receipt", erp([
        {"source_key": "R-9", "receipt_id": "R-9", "po_number": "4712", "line_number": "1", "site": "NORTH", "qty": 3,
         "uom": "EA", "receipt_date": "2024-02-05"},
    ]))
    extra_invoices = frame_from_rows("invoice_line", erp([
        {"source_key": "INV-9|1", "invoice_number": "INV-9", "invoice_line": "1", "po_number": "4712",
         "line_number": "1", "site": "NORTH", "amount": 36, "currency": "EUR", "invoice_date": "2024-02-06"},
        {"source_key": "INV-9|2", "invoice_number": "INV-9", "invoice_line": "2", "po_number": "4712",
         "line_number": "2", "site": "NORTH", "amount": 80, "currency": "EUR", "invoice_date": "2024-02-06"},
    ]))
    extra_issue = frame_from_rows("material_issue", mes([
        {"source_key": "M-9", "issue_id": "M-9", "wo_number": "1002", "site": "NORTH", "item_number": "I-1", "qty": 3,
         "unit_cost": 12, "currency": "EUR", "issue_date": "2024-02-07"},
    ]))
    for name, extra in (("po_line", extra_lines), ("receipt", extra_receipts), ("invoice_line", extra_invoices),
                        ("material_issue", extra_issue)):
        frames[name] = pd.concat([frames[name], extra], ignore_index=True)
    frames["purchase_order"] = pd.concat([frames["purchase_order"], frame_from_rows("purchase_order", erp([
        {"source_key": "4712", "po_number": "4712", "site": "NORTH", "currency": "EUR", "status": "open",
         "order_date": "2024-01-20"}]))], ignore_index=True)
    result = reconcile(frames, ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))
    lines = result.cost_lines[result.cost_lines["wo_number"] == "1002"].set_index("source_key")
    assert lines.at["M-9", "cost_type"] == "material"
    assert lines.at["INV-9|2", "cost_type"] == "outside"
    assert "INV-9|1" not in lines.index and "R-9" not in lines.index
    assert lines.at["4712|1", "cost_type"] == "committed"
    row = wo(result, "1002")
    assert row["outside_cost"] == pytest.approx(80)
    assert row["committed_cost"] == pytest.approx((4 - 3) * 12)


def test_actual_estimate_and_variance(result):
    row = wo(result, "1001")
    actual = (4 * 50 + 2 * 100 * USD_JAN + 1 * 100 * USD_MAR) + (3 * 10 + 2 * 25 * USD_JAN) + (150 * USD_MAR + 60)
    assert row["actual_cost"] == pytest.approx(actual)
    assert row["estimate_cost"] == pytest.approx(1000)
    assert row["variance"] == pytest.approx(actual - 1000)
    assert row["variance_pct"] == pytest.approx((actual - 1000) / 1000 * 100)
    assert not row["incomplete"] and row["unconverted_lines"] == 0


def test_unconvertible_line_marks_the_roll_up_incomplete(result):
    row = wo(result, "1002")
    # L-4 has no currency (reporting), L-5 is GBP via the inverse rate, L-6 is JPY with no rate
    assert row["labour_cost"] == pytest.approx(2 * 10 + 40 * GBP)
    assert bool(row["incomplete"]) and row["unconverted_lines"] == 1
    jpy = result.cost_lines.set_index("source_key").loc["L-6"]
    assert not jpy["converted"] and pd.isna(jpy["amount"]) and "JPY->EUR" in jpy["problem"]
    assert jpy["amount_source"] == pytest.approx(1000)
    assert row["estimate_cost"] == pytest.approx(100 * USD_JAN)
    assert row["variance_pct"] == pytest.approx((row["actual_cost"] - 100 * USD_JAN) / (100 * USD_JAN) * 100)
    findings = result.findings
    assert list(findings.loc[findings["rule_id"] == "CST-003", "subject_source_key"]) == ["L-6"]


def test_zero_estimate_has_no_variance_percent(result):
    row = wo(result, "1003")
    assert row["actual_cost"] == 0 and row["estimate_cost"] == 0
    assert row["variance"] == 0 and pd.isna(row["variance_pct"])


def test_converted_lines_add_up_to_the_roll_up(result):
    lines = result.cost_lines[result.cost_lines["converted"]]
    by_wo = lines[lines["cost_type"] != "committed"].groupby("wo_number")["amount"].sum()
    rollup = result.wo_rollup.set_index("wo_number")
    for number, total in by_wo.items():
        assert rollup.at[number, "actual_cost"] == pytest.approx(total)


def test_disabling_cst_003_keeps_the_incomplete_flag():
    settings = ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR", disabled=frozenset({"CST-003"}))
    disabled = reconcile(example_frames(), settings)
    assert not (disabled.findings["rule_id"] == "CST-003").any()
    assert bool(disabled.wo_rollup.set_index("wo_number").at["1002", "incomplete"])


def test_uom_factor_prefers_the_item_specific_conversion():
    conversions = frame_from_rows("uom_conversion", [
        {"source_system": "erp", "source_key": "a", "from_uom": "BOX", "to_uom": "EA", "factor": 10},
        {"source_system": "erp", "source_key": "b", "item_number": "P-1", "from_uom": "BOX", "to_uom": "EA", "factor": 12},
    ])
    from_uom = pd.Series(["BOX", "BOX", "EA", "KG", None], dtype="string[pyarrow]")
    to_uom = pd.Series(["EA", "EA", "EA", "EA", "EA"], dtype="string[pyarrow]")
    items = pd.Series(["P-1", "P-2", "P-1", "P-1", "P-1"], dtype="string[pyarrow]")
    factors = uom_factors(from_uom, to_uom, items, conversions)
    assert factors.iloc[:4].tolist()[:3] == [12.0, 10.0, 1.0]
    assert pd.isna(factors.iloc[3]) and factors.iloc[4] == 1.0


# ---------------------------------------------------------------------------- one figure by hand

def test_one_work_orders_cost_by_hand_with_fx_and_a_unit_conversion(result):
    """WO 1001, every line worked out by hand (reporting currency EUR).

    labour:   L-1  4 h x 50 EUR                          = 200.00
              L-2  2 h x 100 USD at 0.90 (15 Feb: January's rate) = 180.00
              L-3  1 h x 100 USD at 0.80 (15 Mar: March's rate)   =  80.00
    material: M-1  3 x 10 EUR                            =  30.00
              M-2  2 x standard cost 25 USD at 0.90      =  45.00
    outside:  INV-1|1  150 USD invoiced 5 Mar at 0.80    = 120.00
              R-2  1 BOX received = 2 EA (BOX->EA 2) x 30 EUR = 60.00
    actual = 460 + 75 + 180                              = 715.00
    """
    row = wo(result, "1001")
    assert row["labour_cost"] == pytest.approx(715.00 - 75.00 - 180.00)
    assert row["material_cost"] == pytest.approx(75.00)
    assert row["outside_cost"] == pytest.approx(180.00)
    assert row["actual_cost"] == pytest.approx(715.00)
    assert row["variance"] == pytest.approx(715.00 - 1000.00)
    assert row["variance_pct"] == pytest.approx(-28.5)
    r2 = result.cost_lines.set_index("source_key").loc["R-2"]
    assert r2["amount_source"] == pytest.approx(60.0) and r2["amount"] == pytest.approx(60.0)


# ---------------------------------------------------------------------------- the grains

def plant_frames() -> dict[str, pd.DataFrame]:
    """The example plus an asset hierarchy (LINE-1 > PUMP-1 > SEAL-1), cost centres, items and suppliers."""
    frames = example_frames()
    frames["asset"] = frame_from_rows("asset", [
        {"source_system": "cmms", "source_key": a, "asset_id": a, "site": "NORTH", "parent_asset_id": p,
         "cost_centre": cc}
        for a, p, cc in (("LINE-1", None, "CC-LINE"), ("PUMP-1", "LINE-1", "CC-PUMPS"), ("SEAL-1", "PUMP-1", None))
    ])
    wos = frames["work_order"].copy()
    wos["asset_id"] = pd.array([None, "SEAL-1", "PUMP-1"], dtype="string[pyarrow]")
    wos["item_number"] = pd.array(["FG-7", None, None], dtype="string[pyarrow]")
    wos["cost_centre"] = pd.array([None, "CC-OWN", None], dtype="string[pyarrow]")
    frames["work_order"] = wos
    headers = frames["purchase_order"].copy()
    headers["supplier_id"] = pd.array(["S-1"], dtype="string[pyarrow]")
    frames["purchase_order"] = headers
    lines = frames["po_line"].copy()
    lines["supplier_id"] = pd.array([None, "S-2", None, None], dtype="string[pyarrow]")
    frames["po_line"] = lines
    return frames


@pytest.fixture(scope="module")
def plant():
    return reconcile(plant_frames(), ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))


def rows_of(result, grain: str, **keys) -> pd.DataFrame:
    rows = result.rollup[result.rollup["grain"] == grain]
    for column, value in keys.items():
        rows = rows[rows[column].isna()] if value is None else rows[rows[column] == value]
    return rows


def one(result, grain: str, **keys) -> pd.Series:
    rows = rows_of(result, grain, **keys)
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_every_grain_is_in_one_long_frame(plant):
    assert tuple(plant.rollup.columns) == ROLLUP_COLUMNS
    assert set(plant.rollup["grain"]) == set(GRAINS)
    assert plant.rollup["rollup_row_id"].is_unique


def test_an_asset_includes_its_childrens_cost(plant):
    wo_1002, wo_1003 = wo(plant, "1002"), wo(plant, "1003")
    seal, pump, line = (one(plant, "asset", asset_id=a) for a in ("SEAL-1", "PUMP-1", "LINE-1"))
    assert seal["actual_cost"] == pytest.approx(wo_1002["actual_cost"])
    assert pump["actual_cost"] == pytest.approx(wo_1002["actual_cost"] + wo_1003["actual_cost"])
    assert line["actual_cost"] == pytest.approx(pump["actual_cost"]) and line["work_orders"] == 2
    assert pump["parent_asset_id"] == "LINE-1" and pd.isna(line["parent_asset_id"])
    # WO 1001 has no asset: it is in the site's row without one, so the roots and that row add up to the site
    no_asset = one(plant, "asset", asset_id=None)
    assert no_asset["actual_cost"] + line["actual_cost"] == pytest.approx(one(plant, "site")["actual_cost"])
    # the unconverted JPY line of WO 1002 makes every asset above it incomplete
    assert seal["incomplete"] and pump["incomplete"] and line["incomplete"] and not no_asset["incomplete"]
    assert line["unconverted_lines"] == 1


def test_an_asset_hierarchy_that_loops_is_refused_naming_the_assets():
    frames = plant_frames()
    frames["asset"] = frame_from_rows("asset", [
        {"source_system": "cmms", "source_key": a, "asset_id": a, "site": "NORTH", "parent_asset_id": p}
        for a, p in (("LINE-1", "SEAL-1"), ("PUMP-1", "LINE-1"), ("SEAL-1", "PUMP-1"))
    ])
    with pytest.raises(AssetHierarchyError, match=r"site NORTH loops: .*(LINE-1|PUMP-1|SEAL-1) -> .*parent_asset_id"):
        reconcile(frames, ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))


def test_item_cost_centre_supplier_and_month(plant):
    item = one(plant, "item", item_number="FG-7")
    assert item["actual_cost"] == pytest.approx(715.0) and item["estimate_cost"] == pytest.approx(1000.0)
    assert rows_of(plant, "item")["work_orders"].sum() == 1, "maintenance work orders have no item"
    # WO 1002 has a cost centre of its own; WO 1003 takes its asset's
    assert one(plant, "cost_centre", cost_centre="CC-OWN")["actual_cost"] == pytest.approx(wo(plant, "1002")["actual_cost"])
    assert one(plant, "cost_centre", cost_centre="CC-PUMPS")["work_orders"] == 1
    # outside and committed by supplier: the line's own (S-2 on line 2), else the header's (S-1)
    s1, s2 = one(plant, "supplier", supplier_id="S-1"), one(plant, "supplier", supplier_id="S-2")
    assert s2["outside_cost"] == pytest.approx(60.0) and s2["committed_cost"] == pytest.approx(60.0)
    assert s1["outside_cost"] == pytest.approx(150 * USD_MAR)
    assert s1["committed_cost"] == pytest.approx(5 * 20 + 2 * 100)
    assert s1["labour_cost"] == 0 and pd.isna(s1["estimate_cost"])
    # by the month of each line's own date; committed lines are dated by the order
    months = rows_of(plant, "month").set_index("month")
    assert months.at["2024-03", "actual_cost"] == pytest.approx(100 * USD_MAR + 150 * USD_MAR)
    assert months.at["2024-01", "committed_cost"] == pytest.approx(360.0)
    assert months["actual_cost"].sum() == pytest.approx(one(plant, "site")["actual_cost"])


def test_operations_add_up_to_their_work_order(plant):
    ops = rows_of(plant, "operation", wo_number="1001")
    assert set(ops["op_seq"].dropna()) == {"10", "20", "30", "40"} and ops["op_seq"].isna().sum() == 1
    assert ops["actual_cost"].sum() == pytest.approx(wo(plant, "1001")["actual_cost"])
    assert ops["committed_cost"].sum() == pytest.approx(wo(plant, "1001")["committed_cost"])


def test_every_figure_drills_down_to_its_cost_lines(plant):
    lines = plant.cost_lines.set_index("line_id")
    pairs = plant.drilldown.join(lines[["cost_type", "amount", "converted"]], on="line_id")
    posted = pairs[pairs["converted"] & (pairs["cost_type"] != "committed")]
    by_row = posted.groupby("rollup_row_id")["amount"].sum()
    rollup = plant.rollup.set_index("rollup_row_id")
    for row_id, figure in rollup["actual_cost"].items():
        assert by_row.get(row_id, 0.0) == pytest.approx(figure), rollup.loc[row_id, ["grain", "site"]].to_dict()
    unconverted = pairs[~pairs["converted"]].groupby("rollup_row_id").size()
    assert unconverted.reindex(rollup.index, fill_value=0).tolist() == rollup["unconverted_lines"].tolist()


def test_a_late_line_on_a_closed_work_order_is_a_restatement_with_before_and_after():
    frames = example_frames()
    wos = frames["work_order"].copy()
    wos["closed_date"] = pd.Series([pd.NaT, pd.Timestamp("2024-02-05"), pd.NaT], dtype="datetime64[us]")
    frames["work_order"] = wos
    result = reconcile(frames, ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))
    finding = result.findings[result.findings["rule_id"] == "CST-004"].iloc[0]
    assert finding["subject_source_key"] == "WO-1002"
    evidence = json.loads(finding["evidence"])
    late = [r["source_key"] for r in evidence["records"] if r["entity"] == "labour_entry"]
    assert sorted(late) == ["L-4", "L-5", "L-6"]
    assert evidence["rollup_before"]["actual_cost"] == 0
    assert evidence["rollup_after"]["actual_cost"] == pytest.approx(2 * 10 + 40 * GBP)
    assert evidence["rollup_after"]["unconverted_lines"] == 1 and evidence["rollup_before"]["unconverted_lines"] == 0

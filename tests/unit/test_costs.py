"""The work-order cost roll-up on a small example computed by hand.

Reporting currency EUR. USD->EUR is 0.90 from 2024-01-01 and 0.80 from 2024-03-01; GBP is only
quoted as EUR->GBP 0.80 (so 1 GBP = 1.25 EUR).
"""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from reconciliation.costs import COST_LINE_COLUMNS, ROLLUP_COLUMNS, uom_factors
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

"""Benchmark: the reconcile stage (every rule and the cost roll-up) over large canonical frames.

Builds, in memory and column-wise, ``--wos`` work orders (default 1,000,000) with three operations
each (a tenth of them outside processing, each bought on its own PO line, linked from the PO side,
the operation side or both, in agreement; one in 500 by neither), ``2 x wos`` PO lines (the rest parts for a work order or
stock; 0.1% naming a work order that does not exist; the outside-processing lines neither side links
look WO-driven, half of them naming their work order in the description), receipts for every received
line (outside-processing ones with the work order's lot and a certificate, the day before their
operation finished) and invoices for most, 2,000 suppliers a site (most requiring certificates, approved
for heat treatment and NDT, and ten platers), operations run in routing order, one labour entry and one
material issue per work order, and a year of FX rates. Defects are rare, as in a plant (among them a
receipt without its certificate or with another lot, an invoice before receipt, above it or off the PO
price, an OSP line bought from a plater, parts received after their operation finished, received short,
or back while the operation still runs). An asset hierarchy (roots, lines and units) under the
maintenance work orders, cost centres, the items production orders make, estimates that cover the
cost and closing dates after it, with rare overruns (CST-002) and labour booked after closing
(CST-004). What the rules find is printed per rule.
The parts lines naming a work order buy the item its material issue consumes, received with the
issue's lot, and the production orders of site NORTH (from the MES) are copied into the ERP, with
rare defects too: issues of lot-controlled items without a lot, parts never consumed, production
orders one system lacks, ERP copies that disagree.
Then it times ``reconciliation.reconcile`` in a fresh process per run and prints seconds, peak RSS
and findings per rule. The issue's target: at most 20 s and 4 GB for 1M / 3M / 2M.

    .venv/bin/python bench/reconcile.py
    .venv/bin/python bench/reconcile.py --wos 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def canonical_frames(n_wo: int, seed: int = 3) -> dict:
    """Canonical frames of a synthetic plant with ``n_wo`` work orders (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from reconciliation.frames import canonical_frame, column_types

    rng = np.random.default_rng(seed)
    day0 = np.datetime64("2026-01-01")

    def days(n, low=0, high=180):
        return (day0 + rng.integers(low, high, size=n).astype("timedelta64[D]")).astype("datetime64[us]")

    def text(values):
        return pd.array(np.asarray(values).astype(str), dtype=pd.StringDtype("pyarrow"))

    def frame(entity, columns, n):
        unknown = set(columns) - set(column_types(entity))
        assert not unknown, f"{entity} has no column(s) {sorted(unknown)}"
        full = {name: columns.get(name, pd.Series([None] * n, dtype=object) if t == "text" else
                                     pd.Series([np.nan] * n) if t in ("decimal", "int") else
                                     pd.Series([pd.NaT] * n, dtype="datetime64[us]") if t in ("date", "datetime") else
                                     pd.Series([pd.NA] * n, dtype="boolean"))
                for name, t in column_types(entity).items()}
        return canonical_frame(pd.DataFrame(full), entity)

    sites = np.where(rng.random(n_wo) < 0.5, "NORTH", "SOUTH")
    wo_no = np.char.add("WO", np.arange(n_wo).astype(str))
    closed = rng.random(n_wo) < 0.6
    maintenance = rng.random(n_wo) < 0.5
    production = ~maintenance
    # asset hierarchy per site: roots, lines below them, units below the lines (a parent comes first)
    n_asset = max(30, n_wo // 50)
    asset_site = np.where(np.arange(n_asset) % 2 == 0, "NORTH", "SOUTH")
    level = np.where(np.arange(n_asset) < 10, 0, np.where(np.arange(n_asset) < n_asset // 10, 1, 2))
    parent = np.full(n_asset, -1)
    for lvl in (1, 2):
        rows = np.flatnonzero(level == lvl)
        pool = np.flatnonzero(level == lvl - 1)
        same_site = {s: pool[asset_site[pool] == s] for s in ("NORTH", "SOUTH")}
        for s in ("NORTH", "SOUTH"):
            mine = rows[asset_site[rows] == s]
            parent[mine] = same_site[s][rng.integers(0, len(same_site[s]), size=len(mine))]
    asset_no = np.char.add("A", np.arange(n_asset).astype(str))
    assets = frame("asset", {
        "asset_id": text(asset_no), "site": text(asset_site),
        "parent_asset_id": pd.Series(text(asset_no[np.maximum(parent, 0)])).where(parent >= 0),
        "cost_centre": text(np.char.add("CC", (np.arange(n_asset) % 40).astype(str))),
        "source_system": text(np.full(n_asset, "cmms")), "source_key": text(asset_no)}, n_asset)
    units = {s: np.flatnonzero((level == 2) & (asset_site == s)) for s in ("NORTH", "SOUTH")}
    wo_asset = np.full(n_wo, -1)
    for s in ("NORTH", "SOUTH"):
        mine = np.flatnonzero(maintenance & (sites == s))
        wo_asset[mine] = units[s][rng.integers(0, len(units[s]), size=len(mine))]
    work_orders = {
        "wo_number": text(wo_no), "kind": text(np.where(maintenance, "maintenance", "production")),
        "site": text(sites), "status": text(np.where(closed, "closed", "released")),
        "created_date": days(n_wo), "closed_date": pd.Series(days(n_wo, 180, 200)).where(closed),
        "asset_id": pd.Series(text(asset_no[np.maximum(wo_asset, 0)])).where(wo_asset >= 0),
        "item_number": pd.Series(text(np.char.add("FG", rng.integers(0, 5000, n_wo).astype(str)))).where(~maintenance),
        "cost_centre": pd.Series(text(np.char.add("CC", rng.integers(0, 40, n_wo).astype(str)))).where(
            rng.random(n_wo) < 0.3),
        "currency": text(np.full(n_wo, "USD")),
        "inspection_required": pd.array(rng.random(n_wo) < 0.1, dtype="boolean"),
        "inspection_signed_off": pd.array(rng.random(n_wo) < 0.95, dtype="boolean"),
        "lot": text(np.char.add("LOT", wo_no)),
        "source_system": text(np.where(production, "mes", "cmms")), "source_key": text(wo_no)}

    n_op = 3 * n_wo
    op_wo = np.repeat(np.arange(n_wo), 3)
    op_seq = np.tile(np.array(["10", "20", "30"]), n_wo)
    osp = rng.random(n_op) < 0.1
    n_line = 2 * n_wo
    po_no = np.char.add("PO", (np.arange(n_line) // 2).astype(str))
    line_no = (np.arange(n_line) % 2 + 1).astype(str)
    # the first lines buy the outside-processing operations, one line each; the PO side names the
    # operation on two in three, the operation names its line on one in two (the sides agree); of the
    # other lines a fifth names a work order (parts for it), the rest are stock
    osp_ops = np.flatnonzero(osp)
    n_osp = len(osp_ops)
    line_op = np.full(n_line, -1)
    line_op[:n_osp] = osp_ops
    line_wo = np.where(line_op >= 0, op_wo[np.maximum(line_op, 0)], rng.integers(0, n_wo, size=n_line))
    po_names_op = (line_op >= 0) & (rng.random(n_line) < 2 / 3)
    po_names_wo = po_names_op | ((line_op < 0) & (rng.random(n_line) < 0.2))
    dangling = rng.random(n_line) < 0.001
    wo_ref = np.where(dangling, "WO-NOPE", wo_no[line_wo])
    op_names_line = np.zeros(n_op, dtype=bool)
    # the operation names its line on one in two, and always when the line does not name the operation,
    # but for one line in 500 that neither side links (LNK-006 and OSP-001)
    op_names_line[osp_ops] = (rng.random(n_osp) < 0.5) | (~po_names_op[:n_osp] & (rng.random(n_osp) >= 0.002))
    line_of_op = np.full(n_op, 0)
    line_of_op[osp_ops] = np.arange(n_osp)
    # lines of closed work orders were received; the others are open or received
    line_closed_wo = closed[line_wo]
    line_status = np.where(line_closed_wo | (rng.random(n_line) < 0.5), "received", "open")
    # operations run in routing order, ten days apart: a closed WO has done them all, another is at
    # its current one; an OSP line is received once its operation is done, a day before it finished
    current = np.where(closed, 3, rng.integers(0, 3, size=n_wo))
    op_index = np.tile(np.arange(3), n_wo)
    op_done = op_index < current[op_wo]
    op_status = np.where(op_done, "completed", np.where(op_index == current[op_wo], "in_progress", "released"))
    op_start = day0 + (rng.integers(0, 120, size=n_wo)[op_wo] + 10 * op_index).astype("timedelta64[D]")
    op_finish = op_start + np.timedelta64(5, "D")
    op_qty = rng.integers(1, 50, n_op).astype(float)
    osp_line = np.flatnonzero(line_op >= 0)
    line_status[osp_line] = np.where(op_done[line_op[osp_line]], "received", "open")
    # rare OSP defects: parts back while the operation is still running (OSP-004)
    back_early = osp_line[~op_done[line_op[osp_line]] & (rng.random(len(osp_line)) < 0.001)]
    line_status[back_early] = "received"
    # outside processors: 400 per site approved for heat treatment (and NDT), the operation's expected
    # supplier is the one its line buys from; 0.1% of OSP lines go to one of ten platers (OSP-002)
    supplier = np.char.add("S", (np.arange(n_op) % 400).astype(str))
    line_supplier = np.where(line_op >= 0, supplier[np.maximum(line_op, 0)], None)
    platers = np.char.add("P", np.arange(10).astype(str))
    unapproved = osp_line[rng.random(len(osp_line)) < 0.001]
    line_supplier[unapproved] = platers[rng.integers(0, 10, size=len(unapproved))]
    # the lines neither side links (LNK-006); half name their work order in the description, zero padded
    unlinked = (line_op >= 0) & ~po_names_wo & ~op_names_line[np.maximum(line_op, 0)]
    described = unlinked & (rng.random(n_line) < 0.5)
    description = np.where(described, np.char.add("Heat treat WO ", np.char.zfill(line_wo.astype(str), 8)), None)
    operations = frame("wo_operation", {
        "wo_number": text(wo_no[op_wo]), "op_seq": text(op_seq), "site": text(sites[op_wo]),
        "is_outside_processing": pd.array(osp, dtype="boolean"),
        "process": text(np.where(osp, "heat_treat", "machining")), "qty": op_qty,
        "expected_supplier": pd.Series(text(supplier)).where(osp),
        "status": text(op_status), "start_date": op_start.astype("datetime64[us]"),
        "finish_date": op_finish.astype("datetime64[us]"),
        "po_ref": pd.Series(text(po_no[line_of_op])).where(op_names_line),
        "po_line_ref": pd.Series(text(line_no[line_of_op])).where(op_names_line),
        "source_system": text(np.full(n_op, "cmms")), "source_key": text(np.char.add(wo_no[op_wo], op_seq))}, n_op)
    qty_ordered = rng.integers(1, 100, n_line).astype(float)
    qty_ordered[osp_line] = op_qty[line_op[osp_line]]
    # a parts line buys the item its work order's material issue consumes (one in a thousand another item)
    issue_item = rng.integers(0, 5000, n_wo)
    issue_lot = np.char.add("L", np.arange(n_wo).astype(str))
    parts_line = (line_op < 0) & po_names_wo & ~dangling
    line_item = np.where(rng.random(n_line) < 0.001, (issue_item[line_wo] + 1) % 5000, issue_item[line_wo])
    po_lines = frame("po_line", {
        "po_number": text(po_no), "line_number": text(line_no), "site": text(sites[line_wo]),
        "qty_ordered": qty_ordered, "unit_price": rng.uniform(1, 900, n_line),
        "currency": text(np.where(rng.random(n_line) < 0.8, "USD", "EUR")),
        "need_by_date": days(n_line, 150, 400),
        "wo_ref": pd.Series(text(wo_ref)).where(po_names_wo),
        "op_ref": pd.Series(text(op_seq[np.maximum(line_op, 0)])).where(po_names_op),
        "is_service": pd.array(line_op >= 0, dtype="boolean"),
        "process": pd.Series(text(np.full(n_line, "heat_treat"))).where(line_op >= 0),
        "supplier_id": pd.Series(line_supplier, dtype=object).astype(pd.StringDtype("pyarrow")),
        "description": pd.Series(description, dtype=object).astype(pd.StringDtype("pyarrow")),
        "item_number": pd.Series(text(np.char.add("ITEM", line_item.astype(str)))).where(parts_line),
        "status": text(line_status),
        "source_system": text(np.full(n_line, "erp")), "source_key": text(np.char.add(po_no, line_no))}, n_line)

    received = np.flatnonzero(line_status == "received")
    n_rec = len(received)
    receipt_date = days(n_rec)
    receipt_qty = po_lines["qty_ordered"].to_numpy()[received]
    of_osp = line_op[received] >= 0
    receipt_date[of_osp] = (op_finish[line_op[received[of_osp]]] - np.timedelta64(1, "D")).astype("datetime64[us]")
    # rare OSP defects: parts back 30 days ago, the operation still running (OSP-004); received three
    # days after the operation finished (OSP-003); a tenth short (OSP-006)
    receipt_date[np.isin(received, back_early)] = np.datetime64("2026-05-31", "us")
    late = of_osp & (rng.random(n_rec) < 0.001)
    receipt_date[late] = (op_finish[line_op[received[late]]] + np.timedelta64(3, "D")).astype("datetime64[us]")
    short = of_osp & (rng.random(n_rec) < 0.001)
    receipt_qty[short] = np.floor(receipt_qty[short] * 0.9) - 1
    # outside-processing receipts come back with the work order's lot and a certificate (rarely not)
    osp_receipt = of_osp
    lot = np.where(rng.random(n_rec) < 0.0005, "LOT-MIXED-UP", np.char.add("LOT", wo_no[line_wo[received]]))
    certificate = np.char.add("COC", received.astype(str))
    receipts = frame("receipt", {
        "receipt_id": text(np.char.add("R", received.astype(str))), "po_number": text(po_no[received]),
        "line_number": text(line_no[received]), "site": text(sites[line_wo[received]]),
        "qty": receipt_qty, "receipt_date": receipt_date,
        # parts bought for a work order come with the lot its material issue consumes
        "lot": pd.Series(text(np.where(osp_receipt, lot, issue_lot[line_wo[received]])))
               .where(osp_receipt | parts_line[received]),
        "certificate_ref": pd.Series(text(certificate)).where(osp_receipt & (rng.random(n_rec) >= 0.001)),
        "source_system": text(np.full(n_rec, "erp")),
        "source_key": text(np.char.add("R", received.astype(str)))}, n_rec)
    # most received lines are invoiced; a few open ones are invoiced before any receipt
    invoiced = received[line_closed_wo[received] | (rng.random(n_rec) < 0.7)]
    open_lines = np.flatnonzero(line_status == "open")
    invoiced = np.sort(np.concatenate([invoiced, open_lines[rng.random(len(open_lines)) < 0.0002]]))
    n_inv = len(invoiced)
    inv_qty = po_lines["qty_ordered"].to_numpy()[invoiced] + np.where(rng.random(n_inv) < 0.0002, 5.0, 0.0)
    inv_price = po_lines["unit_price"].to_numpy()[invoiced] * np.where(rng.random(n_inv) < 0.0005, 1.1, 1.0)
    invoices = frame("invoice_line", {
        "invoice_number": text(np.char.add("INV", invoiced.astype(str))), "invoice_line": text(np.full(n_inv, "1")),
        "po_number": text(po_no[invoiced]), "line_number": text(line_no[invoiced]),
        "site": text(sites[line_wo[invoiced]]), "qty": inv_qty, "amount": inv_qty * inv_price,
        "currency": po_lines["currency"].to_numpy()[invoiced], "invoice_date": days(n_inv),
        "source_system": text(np.full(n_inv, "erp")),
        "source_key": text(np.char.add("INV", invoiced.astype(str)))}, n_inv)
    # each site's supplier master: S0..S1999 approved for heat treatment and NDT (most requiring
    # certificates), and the ten platers
    supplier_ids = np.concatenate([np.char.add("S", np.arange(2000).astype(str)), platers])
    n_sup = 2 * len(supplier_ids)
    suppliers = frame("supplier", {
        "supplier_id": text(np.tile(supplier_ids, 2)), "site": text(np.repeat(["NORTH", "SOUTH"], len(supplier_ids))),
        "approved_processes": text(np.tile(np.where(np.isin(supplier_ids, platers), "plating", "heat_treat,ndt"), 2)),
        "certificate_required": pd.array(rng.random(n_sup) < 0.7, dtype="boolean"),
        "source_system": text(np.full(n_sup, "erp")),
        "source_key": text(np.concatenate([np.char.add("N", supplier_ids), np.char.add("S", supplier_ids)]))}, n_sup)
    # a few hours booked after the work order was closed (CST-004)
    labour_date = days(n_wo)
    late = closed & (rng.random(n_wo) < 0.001)
    labour_date[late] = days(int(late.sum()), 205, 215)
    hours = rng.uniform(0.5, 12, n_wo)
    labour = frame("labour_entry", {
        "entry_id": text(np.char.add("L", wo_no)), "wo_number": text(wo_no), "op_seq": text(np.full(n_wo, "10")),
        "site": text(sites), "hours": hours, "rate": np.full(n_wo, 65.0),
        "currency": text(np.full(n_wo, "USD")), "entry_date": labour_date,
        "source_system": text(np.full(n_wo, "cmms")), "source_key": text(np.char.add("L", wo_no))}, n_wo)
    issued_qty, unit_cost = rng.uniform(1, 20, n_wo), rng.uniform(1, 200, n_wo)
    material = frame("material_issue", {
        "issue_id": text(np.char.add("M", wo_no)), "wo_number": text(wo_no), "op_seq": text(np.full(n_wo, "20")),
        "site": text(sites), "item_number": text(np.char.add("ITEM", issue_item.astype(str))),
        # one issue in a thousand has no lot (a third of the items are lot-controlled)
        "lot": pd.Series(text(issue_lot)).where(rng.random(n_wo) >= 0.001),
        "qty": issued_qty, "unit_cost": unit_cost, "currency": text(np.full(n_wo, "USD")),
        "issue_date": days(n_wo), "source_system": text(np.full(n_wo, "cmms")),
        "source_key": text(np.char.add("M", wo_no))}, n_wo)
    # estimates cover the cost with room to spare (EUR lines at up to 1.15), except a rare overrun (CST-002)
    linked = po_names_wo | (line_op >= 0)
    value = (po_lines["qty_ordered"] * po_lines["unit_price"]).to_numpy()
    bought = np.bincount(line_wo[linked], weights=value[linked], minlength=n_wo)
    estimate_scale = np.where(rng.random(n_wo) < 0.001, 0.3, 1.3)
    work_orders["estimate_labour"] = hours * 65.0 * estimate_scale
    work_orders["estimate_material"] = issued_qty * unit_cost * estimate_scale
    work_orders["estimate_outside"] = bought * 1.15 * estimate_scale
    work_orders = frame("work_order", work_orders, n_wo)
    items = frame("item", {
        "item_number": text(np.char.add("ITEM", np.arange(5000).astype(str))),
        "lot_controlled": pd.array(np.arange(5000) % 3 == 0, dtype="boolean"),
        "source_system": text(np.full(5000, "erp")), "source_key": text(np.char.add("ITEM", np.arange(5000).astype(str)))},
        5000)
    # the ERP's copies of site NORTH's production orders: one in a thousand missing, one in a thousand
    # with another status class; and a few orders the MES does not have
    copied = np.flatnonzero(production & (sites == "NORTH") & (rng.random(n_wo) >= 0.001))
    n_orphan = max(1, n_wo // 10000)
    copy_wo = np.concatenate([wo_no[copied], np.char.add("WO-ERP-", np.arange(n_orphan).astype(str))])
    copy_status = np.concatenate([np.where(closed[copied], "closed", "released"), np.full(n_orphan, "released")]).astype(object)
    copy_status[:len(copied)][rng.random(len(copied)) < 0.001] = "cancelled"
    n_copy = len(copy_wo)
    erp_orders = frame("work_order", {
        "wo_number": text(copy_wo), "kind": text(np.full(n_copy, "production")), "site": text(np.full(n_copy, "NORTH")),
        "status": text(copy_status), "created_date": days(n_copy, 0, 150),
        "source_system": text(np.full(n_copy, "erp")), "source_key": text(np.char.add("ERP-", copy_wo))}, n_copy)
    work_orders = pd.concat([work_orders, erp_orders], ignore_index=True)
    fx_days = pd.date_range("2025-12-01", "2026-12-31", freq="D")
    fx = frame("fx_rate", {
        "from_currency": text(np.full(len(fx_days), "EUR")), "to_currency": text(np.full(len(fx_days), "USD")),
        "effective_date": fx_days.to_numpy().astype("datetime64[us]"), "rate": rng.uniform(1.05, 1.15, len(fx_days)),
        "source_system": text(np.full(len(fx_days), "erp")), "source_key": text(fx_days.strftime("%Y%m%d"))},
        len(fx_days))
    return {"asset": assets, "work_order": work_orders, "wo_operation": operations, "po_line": po_lines,
            "receipt": receipts, "invoice_line": invoices, "labour_entry": labour, "material_issue": material,
            "fx_rate": fx, "supplier": suppliers, "item": items}


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> None:
    """Start the peak-RSS count afresh, so building the frames does not count as reconciling them."""
    Path("/proc/self/clear_refs").write_text("5")


def measure(n_wo: int) -> dict:
    """Build the frames, then time one reconcile; runs in its own process (see ``main``).

    Peak memory is the process's resident peak during ``reconcile`` with the frames in memory (the
    transient memory of building them is not counted: the peak count is reset after the build).
    """
    import gc

    from reconciliation.engine import ReconcileSettings, reconcile

    started = time.perf_counter()
    frames = canonical_frames(n_wo)
    built = time.perf_counter() - started
    gc.collect()
    rss_frames = _rss_mb("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    roles = {"erp": "erp", "cmms": "cmms", "mes": "mes"}
    result = reconcile(frames, ReconcileSettings(as_of=date(2026, 6, 30), reporting_currency="USD", source_roles=roles))
    seconds = time.perf_counter() - started
    return {"work_orders": n_wo, "operations": len(frames["wo_operation"]), "po_lines": len(frames["po_line"]),
            "build_seconds": round(built, 2), "reconcile_seconds": round(seconds, 2),
            "rss_mb_frames": round(rss_frames), "peak_rss_mb": round(max(_rss_mb("VmHWM"), rss_frames)),
            "findings": result.findings["rule_id"].value_counts().sort_index().to_dict(),
            "rollup_rows": len(result.rollup)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wos", type=int, default=1_000_000, help="work orders (operations 3x, PO lines 2x)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest counts")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.wos)))
        return
    runs = []
    for _ in range(args.repeat):
        done = subprocess.run([sys.executable, __file__, "--child", "--wos", str(args.wos)], capture_output=True,
                              text=True, check=True, cwd=REPO)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["reconcile_seconds"])
    print(f"{best['work_orders']:,} WOs, {best['operations']:,} operations, {best['po_lines']:,} PO lines: "
          f"reconcile {best['reconcile_seconds']:.2f} s (frames built in {best['build_seconds']:.1f} s), peak RSS "
          f"{best['peak_rss_mb']:,} MB while reconciling (the frames hold {best['rss_mb_frames']:,} MB); "
          f"roll-up rows {best['rollup_rows']:,}")
    print("findings per rule:", ", ".join(f"{k} {v:,}" for k, v in best["findings"].items()))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()

"""The demo plant's traceability: material bought for production orders, the ERP's copies of those
orders, and the traceability defects planted in them (TRC-002 .. TRC-005).

- Material bought for a work order: for about one in ten raw-material issues of a started production
  order, a PO line (on a PO of its own) buys that item for the order, naming it, and is received with
  the lot the MES then issues. ``material_lines`` adds them to the plant's PO lines.
- The ERP's copies: JD Edwards (site NORTH) keeps a copy of every NORTH production order in F4801,
  made by the nightly interface, with the MES number in its reference WAVR01. ``plant_traceability``
  builds them (``Plant.jde_wos``). Site SOUTH's legacy ERP keeps no work orders, so TRC-003 and
  TRC-004 do not judge SOUTH.

Planted (hosts reserved in ``plant._production`` under the roles named here):

- TRC-002: a lot-controlled raw material issued without a lot, on both sites (``trc002``); and on
  SOUTH a receipt of lot-controlled material bought for an order, recorded without a lot
  (``trc002_receipt``; the order consumes the item, so it is no TRC-005 as well).
- TRC-003: completed NORTH orders the interface never copied (``trc003``), and JDE orders whose MES
  order no longer exists (numbers ``MO-26-97xxxx``).
- TRC-004: completed NORTH orders whose JDE copy is still in process (``trc004``), every other one
  also with a start date 5 days off, the rest with another item.
- TRC-005: on both sites, material bought for a running order 45 to 90 days ago that the order never
  consumed (``trc005``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from threadline.demo.plant import Plant

#: host roles of production work orders and the state each is forced into (see ``plant._reserve``)
FORCED_STATES = {
    "trc002": ("Running", False), "trc005": ("Running", False), "trc002_receipt": ("Running", False),
    "trc003": ("Completed", False), "trc004": ("Completed", False),
}
#: the site index (0 NORTH, 1 SOUTH) of each role's hosts; both sites when absent
_HOST_SITES = {"trc002_receipt": (1,), "trc003": (0,), "trc004": (0,)}

#: share of raw-material issues of started orders whose material was bought for the order
BOUGHT_FOR_ORDER = 0.1
#: JD Edwards status (UDC 00/SS) of the copy of an MES order in each state
JDE_STATUS = {"Forecast": "10", "Released": "40", "Running": "50", "Completed": "90", "Closed": "99",
              "Cancelled": "95"}
#: first number JD Edwards gives the work orders the interface creates
JDE_FIRST_WO = 1_000_001
_FX = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}


def production_demands(n_def: int) -> list[tuple[str, int, int]]:
    """The production work orders to reserve as hosts: (role, site index, count)."""
    return [(role, site, n_def) for role in FORCED_STATES for site in _HOST_SITES.get(role, (0, 1))]


def _rng(seed: int) -> np.random.Generator:
    """A generator of its own, so the traceability data leaves the rest of the plant's draws alone."""
    return np.random.default_rng([seed, 5])


def material_lines(seed: int, prod: dict[str, pd.DataFrame], items: pd.DataFrame,
                   suppliers: pd.DataFrame) -> pd.DataFrame:
    """PO lines buying raw material for production orders: clean ones, and the TRC-005 and TRC-002
    receipt hosts' (whose consumption by the order is added to the MES material here)."""
    from threadline.demo.plant import ERP_OF_SITE, _pick_supplier, _supplier_currency  # plant imports this module

    rng = _rng(seed)
    wos, ops, materials = prod["wos"], prod["ops"], prod["materials"]
    raw = items[items["kind"] == "RM"]
    lot_controlled = raw[raw["lot_controlled"]]
    role_of = dict(zip(wos["wo_number"], wos["role"]))
    site_of = dict(zip(wos["wo_number"], wos["site"]))
    start_of_op = dict(zip(zip(ops["wo_number"], ops["seq"]), ops["start_day"]))

    # clean: a tenth of the raw-material issues of orders without a planted role, one per order
    issued = materials[materials["item"].isin(raw["item_number"]).to_numpy()
                       & (materials["wo_number"].map(role_of) == "").to_numpy()]
    chosen = issued[rng.random(len(issued)) < BOUGHT_FOR_ORDER].drop_duplicates("wo_number")
    rows = [{"wo_ref": m.wo_number, "item": m.item, "qty": float(np.ceil(m.qty)), "lot": m.lot, "role": "",
             "issue_day": start_of_op[(m.wo_number, m.seq)]} for m in chosen.itertuples()]

    # TRC-005: bought for a running order long ago, an item the order never consumed
    for wo in wos[wos["role"] == "trc005"].itertuples():
        used = set(materials.loc[materials["wo_number"] == wo.wo_number, "item"])
        unused = raw.loc[~raw["item_number"].isin(used), "item_number"].to_numpy()
        item = unused[int(rng.integers(len(unused)))]
        rows.append({"wo_ref": wo.wo_number, "item": item, "qty": float(rng.integers(5, 50)),
                     "lot": f"SL{int(rng.integers(1, 999999)):06d}", "role": "trc005",
                     "receipt_day": -int(rng.integers(45, 91))})
    # TRC-002 (receipt): lot-controlled material bought for the order, received without a lot; the
    # order's first operation consumes it
    added = []
    for wo in wos[wos["role"] == "trc002_receipt"].itertuples():
        item = lot_controlled["item_number"].to_numpy()[int(rng.integers(len(lot_controlled)))]
        qty = float(rng.integers(5, 50))
        rows.append({"wo_ref": wo.wo_number, "item": item, "qty": qty, "lot": "", "role": "trc002_receipt",
                     "issue_day": start_of_op[(wo.wo_number, 10)]})
        added.append(_issue(materials, wo.wo_number, item, raw, qty, f"RL{int(rng.integers(1, 999999)):06d}"))
    if added:
        prod["materials"] = pd.concat([materials, *added], ignore_index=True)

    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    n = len(frame)
    site = frame["wo_ref"].map(site_of).to_numpy(dtype=object)
    supplier = _pick_supplier(rng, suppliers, site, "stock")
    currency = _supplier_currency(suppliers, supplier)
    uom = dict(zip(raw["item_number"], raw["uom"]))
    std = dict(zip(raw["item_number"], raw["std_cost"]))
    description = dict(zip(raw["item_number"], raw["description"]))
    if "receipt_day" not in frame:
        frame["receipt_day"] = np.nan
    # received a few days before the operation that consumes it, and never after yesterday
    before_issue = np.minimum(frame["issue_day"].fillna(0).to_numpy() - rng.integers(1, 10, size=n), -2)
    receipt_day = np.where(frame["receipt_day"].isna(), before_issue, frame["receipt_day"].fillna(0)).astype("int64")
    order_day = receipt_day - rng.integers(7, 21, size=n)
    return pd.DataFrame(dict(
        erp=np.array([ERP_OF_SITE[s] for s in site], dtype=object), site=site, kind="stock",
        item=frame["item"].to_numpy(), description=[f"{description[i]} for {w}" for i, w in zip(frame["item"], frame["wo_ref"])],
        qty=frame["qty"].to_numpy(), uom=frame["item"].map(uom).to_numpy(),
        unit_price=np.round(frame["item"].map(std).to_numpy() * rng.uniform(0.9, 1.2, size=n)
                            / np.array([_FX[c] for c in currency]), 4),
        currency=currency, supplier=supplier, order_day=order_day, need_by_day=receipt_day,
        status="closed", receipt_day=receipt_day, wo_ref=frame["wo_ref"].to_numpy(), op_ref=0, process="",
        segment="", account=[f"{'5300' if s == 'NORTH' else '5310'}-WIP" for s in site], origin="wo_material",
        origin_row=-1, role=frame["role"].to_numpy(), lot=frame["lot"].to_numpy(), stock_po=-1,
    ))


def _issue(materials: pd.DataFrame, wo_number: str, item: str, raw: pd.DataFrame, qty: float, lot: str) -> pd.DataFrame:
    """One MES material row: ``qty`` of ``item`` consumed by operation 10 of the order."""
    mine = materials[(materials["wo_number"] == wo_number) & (materials["seq"] == 10)]
    return pd.DataFrame([{"wo_number": wo_number, "seq": 10, "mat_id": int(mine["mat_id"].max()) + 1 if len(mine) else 1,
                          "item": item, "uom": raw.set_index("item_number").at[item, "uom"], "qty": qty, "lot": lot}])


def plant_traceability(plant: Plant) -> None:
    """Plant the TRC-002 issues, build JD Edwards' copies of the NORTH orders (TRC-003 and TRC-004
    planted in them) and the lot-less receipts, and record every TRC defect."""
    from threadline.demo.plant import _defect  # plant imports this module

    rng = np.random.default_rng([plant.seed, 6])
    wos, items = plant.prod_wos, plant.items
    raw = items[items["kind"] == "RM"]
    lot_controlled = raw[raw["lot_controlled"]]
    d = plant.defects

    # TRC-002: lot-controlled raw material issued by operation 10 without a lot
    added = []
    for wo in wos[wos["role"] == "trc002"].itertuples():
        item = lot_controlled["item_number"].to_numpy()[int(rng.integers(len(lot_controlled)))]
        issue = _issue(pd.concat([plant.prod_materials, *added]), wo.wo_number, item, raw,
                       float(np.round(rng.uniform(1.0, 20.0), 3)), "")
        added.append(issue)
        d.append(_defect("TRC-002", "material_issue", "mes", ("mes_issue", wo.wo_number, 10, int(issue.at[0, "mat_id"])),
                         f"lot-controlled {item} issued to {wo.wo_number} op 10 without a lot"))
    if added:
        plant.prod_materials = pd.concat([plant.prod_materials, *added], ignore_index=True)

    # TRC-002 (receipt): the lot was never written on the receipt
    lines = plant.po_lines
    receipts = plant.receipts
    hosts = lines[lines["role"] == "trc002_receipt"]
    for line in hosts.itertuples():
        at = receipts.index[(receipts["erp"] == line.erp) & (receipts["po_number"] == line.po_number)
                            & (receipts["line_no"] == line.line_no)]
        receipts.loc[at, "lot"] = ""
        for receipt_no in receipts.loc[at, "receipt_no"]:
            d.append(_defect("TRC-002", "receipt", line.erp, ("receipt", line.erp, int(receipt_no)),
                             f"lot-controlled {line.item} bought for {line.wo_ref}, received without a lot"))
    # TRC-005: bought for the order, never consumed
    for line in lines[lines["role"] == "trc005"].itertuples():
        at = (receipts["erp"] == line.erp) & (receipts["po_number"] == line.po_number) & (receipts["line_no"] == line.line_no)
        for receipt_no in receipts.loc[at, "receipt_no"]:
            d.append(_defect("TRC-005", "receipt", line.erp, ("receipt", line.erp, int(receipt_no)),
                             f"{line.item} bought for {line.wo_ref}, received on day {line.receipt_day}, never issued"))

    plant.jde_wos = _jde_copies(rng, plant)
    copies = plant.jde_wos
    for wo in wos[wos["role"] == "trc003"].itertuples():
        d.append(_defect("TRC-003", "work_order", "mes", ("mes_wo", wo.wo_number),
                         "completed in the MES; the interface never created its JD Edwards copy"))
    for copy in copies[copies["role"] == "trc003_erp"].itertuples():
        d.append(_defect("TRC-003", "work_order", "jde", ("jde_wo", int(copy.wadoco)),
                         f"JD Edwards order for {copy.wo_number}, which the MES does not have"))
    for copy in copies[copies["role"] == "trc004"].itertuples():
        d.append(_defect("TRC-004", "work_order", "jde", ("jde_wo", int(copy.wadoco)),
                         f"JD Edwards copy of {copy.wo_number} still in process while the MES completed it; {copy.note}"))


def _jde_copies(rng: np.random.Generator, plant: Plant) -> pd.DataFrame:
    """F4801 rows: a copy of every NORTH production order but the TRC-003 hosts, the copies of the
    TRC-004 hosts disagreeing, and orders the MES does not have."""
    wos = plant.prod_wos
    north = wos[(wos["site"] == "NORTH") & (wos["role"] != "trc003")]
    copies = pd.DataFrame({
        "wo_number": north["wo_number"].to_numpy(), "item": north["item"].to_numpy(), "qty": north["qty"].to_numpy(),
        "status": north["state"].map(JDE_STATUS).to_numpy(), "created_day": north["created_day"].to_numpy() + 1,
        "start_day": north["start_day"].to_numpy(), "end_day": north["end_day"].to_numpy(),
        "description": north["description"].to_numpy(), "role": north["role"].where(north["role"] == "trc004", "").to_numpy(),
        "note": "",
    })
    finished = plant.items.loc[plant.items["kind"] == "FG", "item_number"].to_numpy()
    for i, at in enumerate(np.flatnonzero(copies["role"].to_numpy() == "trc004")):
        copies.at[at, "status"] = "50"
        if i % 2 == 0:
            copies.at[at, "start_day"] = copies.at[at, "start_day"] + 5
            copies.at[at, "note"] = "its planned start 5 days later"
        else:
            other = finished[finished != copies.at[at, "item"]]
            copies.at[at, "item"] = other[int(rng.integers(len(other)))]
            copies.at[at, "note"] = "another item"
    n_def = int((wos["role"] == "trc003").sum())
    orphans = pd.DataFrame({
        "wo_number": [f"MO-26-{970001 + i:06d}" for i in range(n_def)],
        "item": finished[rng.integers(len(finished), size=n_def)], "qty": rng.integers(5, 200, size=n_def).astype(float),
        "status": "40", "created_day": -rng.integers(30, 60, size=n_def), "start_day": -rng.integers(5, 25, size=n_def),
        "end_day": rng.integers(5, 25, size=n_def), "description": "Interfaced order", "role": "trc003_erp", "note": "",
    })
    copies = pd.concat([copies, orphans], ignore_index=True)
    # JD Edwards numbers its orders in the order the interface created them
    copies = copies.sort_values(["created_day", "wo_number"], kind="stable").reset_index(drop=True)
    copies["wadoco"] = np.arange(JDE_FIRST_WO, JDE_FIRST_WO + len(copies))
    copies["changed_sec"] = rng.integers(1 * 3600, 5 * 3600, size=len(copies))
    return copies


"""Receiving and invoice defects of the demo plant (OSP-007, OSP-008, OSP-009, CST-001).

Each defect is planted on a production work order reserved for it (see ``plant._reserve``), on both
sites, in the purchasing records of the site's ERP (JD Edwards F43121 receipts and vouchers at NORTH,
the legacy ERP's receipts and invoices at SOUTH):

- OSP-007: the receipt of an outside-processing line records no certificate of conformance. At
  NORTH a heat treat (the demo config requires certificates for heat treat and NDT whatever the
  supplier's approval in F550401 says); at SOUTH a plater whose vendor record requires them.
- OSP-008: the parts came back under another lot (NORTH) or with no lot recorded (SOUTH), while the
  MES ran the order under its own lot.
- OSP-009: an open line invoiced before anything was received, and a closed line invoiced above
  what was received, on each site.
- CST-001: an invoice 15% above the PO price, on each site.

Near misses that must not fire are planted too: a heat treater's invoice at its minimum lot charge
(``RULE_OVERRIDES``) for a lot worth less than that at the PO price, on each site, and at SOUTH an
NDT house quoting in pounds that invoices in euros at the day's rate.

The plant calls these functions at fixed points; they touch only the records of their own hosts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: host roles of production work orders, per site, and the state the order is forced into
FORCED_STATES = {
    "osp007": ("Completed", True), "osp008": ("Closed", True), "osp009_unreceived": ("Released", True),
    "osp009_over": ("Closed", True), "cst001": ("Closed", True), "cst001_min_lot": ("Closed", True),
    "cst001_fx": ("Closed", True),
}
#: host role of the SOUTH order whose GBP line is invoiced in EUR (a near miss of CST-001): SOUTH only
FX_ROLE = "cst001_fx"
#: the heat treater of each site with a minimum lot charge (the first OSP supplier of a site is
#: always approved for heat treat), the charge in its own currency, and the lot size it is tested on
MIN_LOT_SUPPLIER = {"NORTH": "4100", "SOUTH": "V20001"}
MIN_LOT_CHARGE = {"NORTH": 150.0, "SOUTH": 140.0}
MIN_LOT_QTY = 4.0
#: the SOUTH plater whose vendor record requires certificates (the second OSP supplier: plating)
CERTIFYING_PLATER = "V20002"
#: the SOUTH NDT house (the third OSP supplier) that quotes in pounds and invoices in euros
POUND_SUPPLIER = "V20003"
#: how much the CST-001 invoices are above the PO price
PRICE_MARKUP = 1.15

#: tolerance overrides the demo's threadline.yaml carries (``rules.overrides``)
RULE_OVERRIDES = [
    {"rule": "OSP-007", "process": "heat_treat", "tolerances": {"certificate_required": True}},
    {"rule": "OSP-007", "process": "ndt", "tolerances": {"certificate_required": True}},
    *({"rule": "CST-001", "supplier": supplier, "tolerances": {"min_lot_charge": MIN_LOT_CHARGE[site]}}
      for site, supplier in MIN_LOT_SUPPLIER.items()),
]


def production_demands(n_def: int) -> list[tuple[str, int, int]]:
    """The production work orders to reserve as hosts: (role, site index, count)."""
    return [(role, site, n_def) for site in range(2) for role in FORCED_STATES if role != FX_ROLE or site == 1]


def prepare_hosts(prod: dict[str, pd.DataFrame], suppliers: pd.DataFrame) -> None:
    """Give the hosts' outside-processing operations the process, supplier and lot size their
    defect needs, before their PO lines are bought."""
    ops, wos = prod["ops"], prod["wos"]
    _force(ops, wos, "osp007", "NORTH", "HEAT_TREAT", MIN_LOT_SUPPLIER["NORTH"])
    _force(ops, wos, "osp007", "SOUTH", "PLATING", CERTIFYING_PLATER)
    suppliers.loc[suppliers["supplier_id"] == CERTIFYING_PLATER, "cert_required"] = True
    for site, supplier in MIN_LOT_SUPPLIER.items():
        _force(ops, wos, "cst001_min_lot", site, "HEAT_TREAT", supplier, qty=MIN_LOT_QTY)
    _force(ops, wos, FX_ROLE, "SOUTH", "NDT", POUND_SUPPLIER)
    suppliers.loc[suppliers["supplier_id"] == POUND_SUPPLIER, "currency"] = "GBP"


def _force(ops: pd.DataFrame, wos: pd.DataFrame, role: str, site: str, segment: str, supplier: str,
           qty: float | None = None) -> None:
    hosts = (ops["role"] == role) & (ops["site"] == site)
    osp = hosts & ops["is_osp"]
    ops.loc[osp, "segment"] = segment
    ops.loc[osp, "process"] = segment.lower()
    ops.loc[osp, "supplier"] = supplier
    ops.loc[osp, "description"] = [f"{segment.replace('_', ' ').title()} op {seq}" for seq in ops.loc[osp, "seq"]]
    if qty is not None:
        ops.loc[hosts, "qty"] = qty
        wos.loc[(wos["role"] == role) & (wos["site"] == site), "qty"] = qty


def plant_receipts_and_invoices(lines: pd.DataFrame, receipts: pd.DataFrame, invoices: pd.DataFrame,
                                fx_rates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plant the defects and near misses in the receipts and invoices of the hosts' OSP lines
    (``fx_rates``: the plant's daily rates to the reporting currency)."""
    receipts, invoices = receipts.copy(), invoices.copy()
    osp = lines[lines["origin"] == "osp"]
    key = ["erp", "po_number", "line_no"]

    def rows_of(frame: pd.DataFrame, role: str, site: str | None = None) -> pd.Index:
        hosts = osp[(osp["role"] == role) & ((osp["site"] == site) if site else True)]
        wanted = pd.MultiIndex.from_frame(hosts[key])
        return frame.index[pd.MultiIndex.from_frame(frame[key]).isin(wanted)]

    receipts.loc[rows_of(receipts, "osp007"), "certificate"] = ""
    # another order's lot came back at NORTH; the SOUTH receiving clerk recorded none
    mixed_up = rows_of(receipts, "osp008", "NORTH")
    receipts.loc[mixed_up, "lot"] = [f"LOT-{9000000 + i:07d}" for i in range(len(mixed_up))]
    receipts.loc[rows_of(receipts, "osp008", "SOUTH"), "lot"] = ""

    over = rows_of(invoices, "osp009_over")
    extra = np.maximum(1.0, np.round(invoices.loc[over, "qty"] * 0.1))
    invoices.loc[over, "qty"] = invoices.loc[over, "qty"] + extra
    price = osp.set_index(key)["unit_price"]
    unit_price = price.reindex(pd.MultiIndex.from_frame(invoices.loc[over, key])).to_numpy()
    invoices.loc[over, "amount"] = np.round(invoices.loc[over, "qty"].to_numpy() * unit_price, 2)
    marked_up = rows_of(invoices, "cst001")
    invoices.loc[marked_up, "amount"] = np.round(invoices.loc[marked_up, "amount"] * PRICE_MARKUP, 2)
    for site, charge in MIN_LOT_CHARGE.items():
        invoices.loc[rows_of(invoices, "cst001_min_lot", site), "amount"] = charge
    in_euros = rows_of(invoices, FX_ROLE)
    rate = fx_rates.set_index(["from_currency", "day"])["rate"]
    days = invoices.loc[in_euros, "day"].to_numpy()
    pound = rate.reindex(pd.MultiIndex.from_arrays([["GBP"] * len(days), days])).to_numpy()
    euro = rate.reindex(pd.MultiIndex.from_arrays([["EUR"] * len(days), days])).to_numpy()
    invoices.loc[in_euros, "amount"] = np.round(invoices.loc[in_euros, "amount"].to_numpy() * pound / euro, 2)
    invoices.loc[in_euros, "currency"] = "EUR"

    # billed before anything came back: an invoice for the whole of an open line
    unreceived = osp[osp["role"] == "osp009_unreceived"]
    early = pd.DataFrame({
        "erp": unreceived["erp"].to_numpy(), "site": unreceived["site"].to_numpy(),
        "po_number": unreceived["po_number"].to_numpy(), "po_label": unreceived["po_label"].to_numpy(),
        "line_no": unreceived["line_no"].to_numpy(), "qty": unreceived["qty"].to_numpy(),
        "amount": np.round(unreceived["qty"].to_numpy() * unreceived["unit_price"].to_numpy(), 2),
        "currency": unreceived["currency"].to_numpy(), "day": -1, "supplier": unreceived["supplier"].to_numpy(),
        "role": unreceived["role"].to_numpy(), "uom": unreceived["uom"].to_numpy(),
        "supplier_invoice": [f"SI-{9900001 + i:07d}" for i in range(len(unreceived))],
    })
    invoices = pd.concat([invoices.drop(columns="invoice_no"), early], ignore_index=True)
    invoices = invoices.sort_values(["erp", "day", "po_number", "line_no"], kind="stable").reset_index(drop=True)
    invoices["invoice_no"] = invoices.groupby("erp").cumcount() + 1
    return receipts, invoices


def collect_defects(plant: Any, defect: Callable[..., dict[str, Any]]) -> None:
    """Append the findings the receiving and invoice rules must produce to ``plant.defects``."""
    d = plant.defects
    lines = plant.po_lines
    osp = lines[lines["origin"] == "osp"]
    key = ["erp", "po_number", "line_no"]

    def events_of(frame: pd.DataFrame, role: str) -> pd.DataFrame:
        hosts = osp[osp["role"] == role][key]
        return frame.merge(hosts, on=key)

    for _, r in events_of(plant.receipts, "osp007").iterrows():
        d.append(defect("OSP-007", "receipt", r["erp"], ("receipt", r["erp"], r["receipt_no"]),
                        f"receipt on OSP line {r['po_label']} line {r['line_no']} without the certificate of "
                        f"conformance its {'process' if r['site'] == 'NORTH' else 'supplier'} requires"))
    for _, r in events_of(plant.receipts, "osp008").iterrows():
        got = f"lot {r['lot']}" if r["lot"] else "no lot"
        d.append(defect("OSP-008", "receipt", r["erp"], ("receipt", r["erp"], r["receipt_no"]),
                        f"the order's lot went out for processing, {got} came back"))
    for role, note in (("osp009_unreceived", "open OSP line invoiced in full before any receipt"),
                       ("osp009_over", "closed OSP line invoiced about 10% above what was received")):
        for _, line in osp[osp["role"] == role].iterrows():
            d.append(defect("OSP-009", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                            note))
    for _, inv in events_of(plant.invoices, "cst001").iterrows():
        d.append(defect("CST-001", "invoice_line", inv["erp"], ("invoice", inv["erp"], inv["invoice_no"]),
                        f"invoice for {inv['po_label']} line {inv['line_no']} 15% above the PO price"))

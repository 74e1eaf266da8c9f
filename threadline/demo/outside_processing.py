"""Outside-processing defects of the demo plant (OSP-002, OSP-003, OSP-004, OSP-006) and the
supplier approvals they are judged against.

Each defect is built on a production work order reserved for it in ``plant._production`` (its role,
state and OSP operation forced there through :data:`FORCED`), then shaped here on the neutral tables
before the legacy writers lay them out:

- OSP-002: the OSP line goes to a supplier of the site that is not approved for the process;
- OSP-003: the operation is completed and the next one started, and the receipt is booked 6 days
  after the operation finished;
- OSP-004: the parts came back 15 days ago and the operation is still running;
- OSP-006: a plated, coated or tested batch came back short in two partial receipts; and a heat
  treater paid per kilogram, for an item that has no kilogram-to-piece conversion. A third host, a
  heat treater paid per kilogram for an item that has the conversion, is clean: the kilograms
  received convert to exactly the pieces of the operation.

Approvals: OSP processors are approved for their processes when the suppliers are generated; the
service suppliers of maintenance work are approved here for repair, field service and calibration,
the processes the CMMS tasks they are bought for carry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: production host roles: the MES state of the work order and whether it has an OSP operation
FORCED = {
    "osp002": ("Released", True), "osp003": ("Running", True), "osp004": ("Running", True),
    "osp006_short": ("Completed", True), "osp006_kg": ("Completed", True), "osp006_no_kg": ("Completed", True),
}
#: hosts whose running operation started 25 days ago rather than yesterday, so a receipt fits before it
LATE_ROLES = ("osp003", "osp004")
#: hosts whose OSP operation is a heat treatment paid per kilogram
PER_KG_ROLES = ("osp006_kg", "osp006_no_kg")
#: the processes of the maintenance services (CMMS tasks), as the ERPs spell them
SERVICE_PROCESSES = "REPAIR,SERVICE,CALIBRATION"
#: kilograms per piece of the finished items heat treated per kilogram
KG_PER_PIECE = 2.5
#: receipt day of OSP-004's parts, and days after the operation's finish of OSP-003's receipt
OSP004_RECEIPT_DAY = -15
OSP003_RECEIPT_DELAY = 6


def demands(n_def: int) -> list[tuple[str, int, int]]:
    """The production hosts to reserve (role, site index, count), both sites."""
    out = []
    for site in range(2):
        out += [(role, site, n_def) for role in FORCED]
    return out


def approve_service_suppliers(suppliers: pd.DataFrame) -> None:
    """Service suppliers are approved for the maintenance processes they are bought for."""
    suppliers.loc[suppliers["kind"] == "service", "processes"] = SERVICE_PROCESSES


def place_running_operation(role: np.ndarray, current: np.ndarray, osp_pos: np.ndarray) -> None:
    """OSP-003's hosts run the operation after the OSP one; OSP-004's run the OSP operation itself."""
    current[role == "osp003"] = osp_pos[role == "osp003"] + 1
    current[role == "osp004"] = osp_pos[role == "osp004"]


def shape_hosts(prod: dict[str, pd.DataFrame], items: pd.DataFrame, uom: pd.DataFrame) -> pd.DataFrame:
    """Per-kg hosts make one of two finished items: the first has a kilogram conversion (added to
    ``uom``, which is returned), the second none. Their OSP operation is a heat treatment."""
    wos, ops = prod["wos"], prod["ops"]
    finished = items[items["kind"] == "FG"].reset_index(drop=True)
    with_kg, without_kg = finished.iloc[0], finished.iloc[1]
    for role, item in (("osp006_kg", with_kg), ("osp006_no_kg", without_kg)):
        hosts = wos["role"] == role
        wos.loc[hosts, "item"] = item["item_number"]
        wos.loc[hosts, "description"] = [f"{item['description']} x{int(q)}" for q in wos.loc[hosts, "qty"]]
    conversions = pd.DataFrame({
        "item_number": with_kg["item_number"], "short_id": with_kg["short_id"],
        "from_uom": ["KG", "EA"], "to_uom": ["EA", "KG"], "factor": [round(1 / KG_PER_PIECE, 7), KG_PER_PIECE],
    })
    per_kg = ops["is_osp"] & ops["role"].isin(PER_KG_ROLES)
    assert not (per_kg & (ops["segment"] != "HEAT_TREAT")).any(), "per-kg hosts are heat treated"
    return pd.concat([uom, conversions], ignore_index=True)


def plant_lines(rng: np.random.Generator, lines: pd.DataFrame, suppliers: pd.DataFrame,
                prod: dict[str, pd.DataFrame]) -> None:
    """Shape the hosts' OSP lines in place: unapproved suppliers, late receipts, kilograms."""
    from threadline.demo.plant import OSP_SEGMENTS

    osp = lines["origin"] == "osp"
    ops = prod["ops"]
    # OSP-002: another supplier of the site, approved for other processes or for none
    for row in lines.index[osp & (lines["role"] == "osp002")]:
        segment = lines.at[row, "segment"]
        pool = suppliers[(suppliers["site"] == lines.at[row, "site"]) & (suppliers["kind"] != "service")]
        approved = pool["processes"].str.split(",").apply(lambda procs: segment in procs)
        assert segment in OSP_SEGMENTS
        unapproved = pool.loc[~approved, "supplier_id"].to_numpy()
        lines.at[row, "supplier"] = unapproved[int(rng.integers(len(unapproved)))]
    # OSP-003: received well after the operation finished and the next one started
    rows = lines.index[osp & (lines["role"] == "osp003")]
    end_day = ops.loc[lines.loc[rows, "origin_row"].to_numpy(), "end_day"].to_numpy()
    lines.loc[rows, "receipt_day"] = end_day + OSP003_RECEIPT_DELAY
    # OSP-004: back from the processor, the operation still running
    rows = lines.index[osp & (lines["role"] == "osp004")]
    lines.loc[rows, "status"] = "received"
    lines.loc[rows, "receipt_day"] = OSP004_RECEIPT_DAY
    # OSP-006: a short batch, received but not closed (so not invoiced) while the rest is chased
    lines.loc[osp & (lines["role"] == "osp006_short"), "status"] = "received"
    # bought and received per kilogram, priced per kilogram
    rows = lines.index[osp & lines["role"].isin(PER_KG_ROLES)]
    lines.loc[rows, "uom"] = "KG"
    lines.loc[rows, "qty"] = lines.loc[rows, "qty"] * KG_PER_PIECE
    lines.loc[rows, "unit_price"] = np.round(lines.loc[rows, "unit_price"] / KG_PER_PIECE, 4)
    lines.loc[rows, "description"] = lines.loc[rows, "description"] + " (per kg)"


def split_short_receipts(receipts: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """OSP-006's short batches come back in two receipts that add up to 90% of the pieces.

    The second receipt is numbered after every other receipt of its ERP, so no other receipt's
    number (and source key) moves.
    """
    hosts = lines[(lines["origin"] == "osp") & (lines["role"] == "osp006_short")]
    key = ["erp", "po_number", "line_no"]
    at = receipts.reset_index().merge(hosts[key], on=key)["index"].to_numpy()
    first = receipts.loc[at].copy()
    receipts.loc[at, "qty"] = np.round(first["qty"].to_numpy() * 0.5, 2)
    second = first.assign(qty=np.round(first["qty"].to_numpy() * 0.4, 2),
                          day=np.minimum(first["day"].to_numpy() + 3, -1))
    second["receipt_no"] = 0
    for erp in second["erp"].unique():
        mine = second["erp"] == erp
        start = int(receipts.loc[receipts["erp"] == erp, "receipt_no"].max()) + 1
        second.loc[mine, "receipt_no"] = np.arange(start, start + int(mine.sum()))
    return pd.concat([receipts, second], ignore_index=True)


def collect_defects(plant, defect: Callable[..., dict[str, Any]]) -> None:
    """Record the findings these hosts must produce (``defect`` is ``plant._defect``)."""
    d = plant.defects
    lines = plant.po_lines[plant.po_lines["origin"] == "osp"]
    ops = plant.prod_ops[plant.prod_ops["is_osp"]]

    def line_ref(line) -> tuple:
        return ("po_line", line["erp"], line["po_number"], line["line_no"])

    for _, line in lines[lines["role"] == "osp002"].iterrows():
        d.append(defect("OSP-002", "po_line", line["erp"], line_ref(line),
                        f"{line['segment']} bought from supplier {line['supplier']}, not approved for it"))
    for _, op in ops[ops["role"] == "osp003"].iterrows():
        d.append(defect("OSP-003", "wo_operation", "mes", ("mes_op", op["wo_number"], op["seq"]),
                        f"{op['segment']} op completed and the next op started before its receipt "
                        f"({OSP003_RECEIPT_DELAY} days after the op finished)"))
    for _, op in ops[ops["role"] == "osp004"].iterrows():
        d.append(defect("OSP-004", "wo_operation", "mes", ("mes_op", op["wo_number"], op["seq"]),
                        f"{op['segment']} op still running {-OSP004_RECEIPT_DAY} days after its parts came back"))
    for _, line in lines[lines["role"] == "osp006_short"].iterrows():
        d.append(defect("OSP-006", "po_line", line["erp"], line_ref(line),
                        f"two partial receipts add up to 90% of the {line['qty']:g} pieces; the line is received"))
    for _, line in lines[lines["role"] == "osp006_no_kg"].iterrows():
        d.append(defect("OSP-006", "po_line", line["erp"], line_ref(line),
                        "heat treat bought per kg for an item without a kg-to-piece conversion: not comparable"))

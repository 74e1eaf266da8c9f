"""The demo plant: two sites, their work and their purchases, generated column by column.

``generate_plant(scale, seed)`` returns the plant as neutral tables (one DataFrame per kind of
record, before any legacy layout is applied) plus the defects planted in it. The writers in
``jde.py``, ``maximo.py``, ``mes.py`` and ``erp_service.py`` turn these tables into the legacy
systems' own layouts; ``landscape.py`` turns the planted defects into the manifest.

Dates are whole days relative to ``AS_OF`` (negative = before it), so every figure the rules see
is the same whenever the demo is built. Clean data is consistent by construction:

- every WO-driven PO line names an existing work order and operation of its own site;
- every released-or-later outside-processing operation has its PO line;
- an open PO line has a need-by date after ``AS_OF``; a line past need-by has been received,
  closed or cancelled;
- every cost line is in USD, EUR or GBP, with daily rates from before the earliest date;
- a receipt in another unit than its PO line has the item's unit conversion;
- every completed or closed production work order has its inspections signed off;
- a PO line and the work it names name each other back or not at all, each OSP operation is bought
  on one PO line, and a closed or cancelled work order has no line left open or unsettled.

Each planted defect is built on a host record reserved for it up front (its status, site and
routing forced), so every scale from a few dozen work orders up plants every kind of defect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from threadline.demo import outside_processing, receiving, suggestions, traceability
from threadline.demo.costs import CST002_ROLE, CST004_ROLE, collect_cost_defects, settle_costs

AS_OF = date(2026, 6, 30)
AS_OF_DAY = np.datetime64(AS_OF.isoformat(), "D")
#: no generated date lies further back than this many days before AS_OF
HORIZON_DAYS = 720
REPORTING_CURRENCY = "USD"
SITES = ("NORTH", "SOUTH")
DEFAULT_SCALE = 1000
DEFAULT_SEED = 7

#: which legacy system holds the purchasing of each site
ERP_OF_SITE = {"NORTH": "jde", "SOUTH": "soap"}
#: site currency of costs booked in the CMMS
SITE_CURRENCY = {"NORTH": "USD", "SOUTH": "EUR"}
OSP_SEGMENTS = ("HEAT_TREAT", "PLATING", "NDT", "COATING")
INHOUSE_SEGMENTS = ("MACHINING", "GRINDING", "ASSEMBLY", "MACHINING")
#: ProcessSegmentID of the MES op planted for quarantine: a code the MES spec does not map
UNKNOWN_SEGMENT = "LASER_MARK"
#: Maximo status planted for quarantine: a real Maximo status the CMMS spec does not map
UNKNOWN_MAXIMO_STATUS = "WPCOND"
#: JD Edwards need-by date planted for quarantine: day 400 of 2026 does not exist
INVALID_JULIAN = 126400
#: a currency nobody publishes a rate for
UNCONVERTIBLE_CURRENCY = "CHF"
#: operation number no routing reaches (routings have at most six operations: 10..60)
MISSING_OP_SEQ = 90
#: PO line number no PO reaches
MISSING_LINE_NUMBER = 99

MNT_STATUSES = ("WAPPR", "APPR", "INPRG", "COMP", "CLOSE", "CAN")
MNT_STATUS_P = (0.08, 0.15, 0.20, 0.15, 0.37, 0.05)
MES_STATES = ("Forecast", "Released", "Running", "Completed", "Closed", "Cancelled")
MES_STATE_P = (0.05, 0.15, 0.20, 0.20, 0.37, 0.03)
#: states in which an OSP operation has been bought
MES_BOUGHT_STATES = ("Released", "Running", "Completed", "Closed")
MNT_BOUGHT_STATUSES = ("APPR", "INPRG", "COMP", "CLOSE")

_PROCESS_OF_SEGMENT = {"HEAT_TREAT": "heat_treat", "PLATING": "plating", "NDT": "ndt", "COATING": "coating"}
_OSP_PRICE = {"HEAT_TREAT": 4.5, "PLATING": 3.2, "NDT": 6.0, "COATING": 2.8}
_SERVICE_ITEMS = ("SVC-REPAIR", "SVC-FIELD", "SVC-CALIB")
_SERVICE_TEXT = {
    "SVC-REPAIR": ("Motor rewind", "Gearbox overhaul", "Pump seal repair", "Hydraulic cylinder repair"),
    "SVC-FIELD": ("Crane inspection", "Compressor service", "HVAC service", "Boiler service"),
    "SVC-CALIB": ("Gauge calibration", "Scale calibration", "CMM calibration", "Torque tool calibration"),
}
_CRAFT_RATE = {"MECH": 62.5, "ELEC": 68.0, "INST": 71.0}
_NAME_A = ("Acme", "Baltic", "Cobalt", "Delta", "Everest", "Fulcrum", "Granite", "Harbor", "Iron", "Juniper",
           "Keystone", "Lumen", "Meridian", "Northway", "Orion", "Pinnacle", "Quarry", "Redwood", "Summit", "Titan")
_NAME_B = ("Heat Treating", "Plating", "Testing", "Coatings", "Industrial Services", "Supply", "Metals",
           "Components", "Engineering", "Maintenance", "Bearings", "Fasteners")


@dataclass
class Plant:
    """The generated plant: neutral tables per record kind, planted defects and quarantine rows."""

    scale: int
    seed: int
    suppliers: pd.DataFrame
    items: pd.DataFrame
    uom_conversions: pd.DataFrame
    fx_rates: pd.DataFrame
    equipment: pd.DataFrame
    maint_wos: pd.DataFrame
    maint_tasks: pd.DataFrame
    services: pd.DataFrame
    labour: pd.DataFrame
    material_use: pd.DataFrame
    po_links: pd.DataFrame
    prod_wos: pd.DataFrame
    prod_ops: pd.DataFrame
    prod_materials: pd.DataFrame
    po_headers: pd.DataFrame
    po_lines: pd.DataFrame
    receipts: pd.DataFrame
    invoices: pd.DataFrame
    #: one entry per finding the rules must produce: rule_id, subject_entity, source_system,
    #: ref (what the finding is about, resolved to a source key by the writers) and note
    defects: list[dict[str, Any]] = field(default_factory=list)
    #: one entry per source row that must be quarantined, with a ref like ``defects``
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    #: PO lines that lost their link to work, with their true WO and operation (threadline.demo.suggestions)
    link_truth: list[dict[str, Any]] = field(default_factory=list)
    #: JD Edwards' copies of the NORTH production orders (F4801), see ``threadline.demo.traceability``
    jde_wos: pd.DataFrame = field(default_factory=pd.DataFrame)

    def purchasing(self, erp: str) -> tuple[pd.DataFrame, ...]:
        """PO headers, lines, receipts, invoices and suppliers kept by one ERP ("jde" or "soap")."""
        return tuple(frame[frame["erp"] == erp].reset_index(drop=True) for frame in
                     (self.po_headers, self.po_lines, self.receipts, self.invoices, self.suppliers))


def defect_count(scale: int) -> int:
    """How many of each kind of defect the plant gets: about one per 500 work orders, at least one."""
    return max(1, scale // 500)


def to_dates(days: np.ndarray | pd.Series) -> np.ndarray:
    """Day offsets from AS_OF as numpy dates."""
    return AS_OF_DAY + np.asarray(days, dtype="int64").astype("timedelta64[D]")


def _choice(rng: np.random.Generator, options, size: int, p=None) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=size, p=p)]


def _within_group_index(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... restarting for each group, for groups laid out one after another."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - starts


def _reserve(rng: np.random.Generator, size: int, demands: list[tuple[str, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Pick distinct random rows for defect hosts: returns (role per row, forced site per row or -1)."""
    total = sum(count for _, _, count in demands)
    picked = rng.permutation(size)[:total]
    role = np.full(size, "", dtype=object)
    site = np.full(size, -1)
    i = 0
    for name, site_index, count in demands:
        role[picked[i:i + count]] = name
        site[picked[i:i + count]] = site_index
        i += count
    return role, site


# ---------------------------------------------------------------------------- master data

def _suppliers(rng: np.random.Generator, scale: int) -> pd.DataFrame:
    """Suppliers of both ERPs; every OSP process has approved processors at each site."""
    per_site = min(400, 16 + scale // 250)
    frames = []
    for site in SITES:
        n = per_site
        kind = np.array(["osp"] * (n * 4 // 10) + ["service"] * (n * 3 // 10), dtype=object)
        kind = np.concatenate([kind, np.full(n - len(kind), "stock", dtype=object)])
        processes = np.full(n, "", dtype=object)
        osp_rows = np.flatnonzero(kind == "osp")
        for j, row in enumerate(osp_rows):
            own = {OSP_SEGMENTS[j % len(OSP_SEGMENTS)]}
            extra = OSP_SEGMENTS[int(rng.integers(len(OSP_SEGMENTS)))]
            if rng.random() < 0.5:
                own.add(extra)
            processes[row] = ",".join(s for s in OSP_SEGMENTS if s in own)
        if site == "NORTH":
            supplier_id = np.array([str(4100 + k) for k in range(n)], dtype=object)
            currency = np.full(n, "USD", dtype=object)
        else:
            supplier_id = np.array([f"V{20001 + k}" for k in range(n)], dtype=object)
            currency = np.where(rng.random(n) < 0.15, "GBP", "EUR").astype(object)
        names = [f"{_NAME_A[int(a)]} {_NAME_B[int(b)]}" for a, b in
                 zip(rng.integers(len(_NAME_A), size=n), rng.integers(len(_NAME_B), size=n))]
        frames.append(pd.DataFrame({
            "site": site, "erp": ERP_OF_SITE[site], "supplier_id": supplier_id,
            "name": [f"{nm} {'GmbH' if site == 'SOUTH' else 'Inc'} {k + 1}" for k, nm in enumerate(names)],
            "kind": kind, "processes": processes, "currency": currency,
            "cert_required": np.isin(kind, ["osp"]) & (rng.random(n) < 0.7),
            "changed_day": -rng.integers(200, HORIZON_DAYS, size=n),
        }))
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _items(rng: np.random.Generator, scale: int) -> pd.DataFrame:
    """Item master: raw materials, spare parts, boxed consumables and finished parts."""
    per_kind = min(2000, 30 + scale // 200)
    kinds = {
        "RM": ("KG", ("Steel bar 4140", "Aluminium plate 6061", "Titanium billet", "Brass rod", "Inconel sheet")),
        "SP": ("EA", ("Bearing 6204", "V-belt", "Contactor", "Pressure sensor", "Seal kit", "Filter element")),
        "CS": ("BX", ("Nitrile gloves", "Cutting inserts", "Welding rods", "Shop towels", "Grinding discs")),
        "FG": ("EA", ("Shaft", "Housing", "Bracket", "Flange", "Valve body", "Gear")),
    }
    frames = []
    short = 60001
    for prefix, (uom, words) in kinds.items():
        n = per_kind
        uoms = np.full(n, uom, dtype=object)
        if prefix == "RM":
            uoms = _choice(rng, ("KG", "KG", "M"), n)
        cost = {"RM": (2.0, 80.0), "SP": (5.0, 400.0), "CS": (8.0, 60.0), "FG": (40.0, 900.0)}[prefix]
        frames.append(pd.DataFrame({
            "item_number": [f"{prefix}-{100001 + k}" for k in range(n)],
            "short_id": np.arange(short, short + n),
            "description": [f"{words[k % len(words)]} {k + 1}" for k in range(n)],
            "kind": prefix, "uom": uoms,
            "std_cost": np.round(rng.uniform(*cost, size=n), 4),
            "lot_controlled": np.isin(prefix, ["RM", "FG"]) & (rng.random(n) < 0.8),
            "box_qty": np.where(prefix == "CS", _choice(rng, (10, 12, 25, 50), n), 0).astype("int64"),
            "changed_day": -rng.integers(300, HORIZON_DAYS, size=n),
        }))
        short += n
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _uom_conversions(items: pd.DataFrame) -> pd.DataFrame:
    """Item-specific box conversions both ways, and generic metric/imperial ones both ways."""
    boxed = items[items["kind"] == "CS"]
    specific = pd.DataFrame({
        "item_number": np.concatenate([boxed["item_number"], boxed["item_number"]]),
        "short_id": np.concatenate([boxed["short_id"], boxed["short_id"]]),
        "from_uom": ["BX"] * len(boxed) + ["EA"] * len(boxed),
        "to_uom": ["EA"] * len(boxed) + ["BX"] * len(boxed),
        "factor": np.concatenate([boxed["box_qty"].to_numpy(float), 1.0 / boxed["box_qty"].to_numpy(float)]),
    })
    generic_pairs = (("KG", "G", 1000.0), ("M", "MM", 1000.0), ("FT", "IN", 12.0), ("M", "FT", 3.28084))
    generic = pd.DataFrame({
        "item_number": "", "short_id": 0,
        "from_uom": [a for a, _, _ in generic_pairs] + [b for _, b, _ in generic_pairs],
        "to_uom": [b for _, b, _ in generic_pairs] + [a for a, _, _ in generic_pairs],
        "factor": [f for _, _, f in generic_pairs] + [1.0 / f for _, _, f in generic_pairs],
    })
    out = pd.concat([specific, generic], ignore_index=True)
    out["factor"] = out["factor"].round(7)
    return out


def _fx_rates(rng: np.random.Generator) -> pd.DataFrame:
    """Daily EUR->USD and GBP->USD rates from before the earliest generated date up to AS_OF."""
    days = np.arange(-HORIZON_DAYS - 5, 1)
    frames = []
    for currency, level in (("EUR", 1.08), ("GBP", 1.27)):
        walk = np.cumsum(rng.normal(0.0, 0.003, size=len(days)))
        frames.append(pd.DataFrame({
            "from_currency": currency, "to_currency": REPORTING_CURRENCY, "day": days,
            "rate": np.round(level * np.exp(walk - walk.mean()), 7),
        }))
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _equipment(rng: np.random.Generator, n_mnt: int) -> pd.DataFrame:
    """Asset hierarchy per site: production lines with machines below them."""
    frames = []
    kinds = ("PMP", "CMP", "CNC", "CNV", "HVC", "PRS", "BLR")
    for site in SITES:
        letter = site[0]
        n_lines = 4
        n_units = max(12, n_mnt // 10)
        lines = [f"{letter}-LINE-{k + 1:02d}" for k in range(n_lines)]
        kind = _choice(rng, kinds, n_units)
        units = [f"{letter}-{kd}-{k + 1:04d}" for k, kd in enumerate(kind)]
        frames.append(pd.DataFrame({
            "site": site,
            "eqnum": lines + units,
            "parent": [""] * n_lines + list(_choice(rng, lines, n_units)),
            "description": [f"Production line {k + 1}" for k in range(n_lines)]
                           + [f"{kd} unit {k + 1}" for k, kd in enumerate(kind)],
            "is_line": [True] * n_lines + [False] * n_units,
            "changed_day": -rng.integers(400, HORIZON_DAYS, size=n_lines + n_units),
        }))
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _pick_supplier(rng: np.random.Generator, suppliers: pd.DataFrame, site: np.ndarray, kind: str,
                   segment: np.ndarray | None = None) -> np.ndarray:
    """A supplier of the given kind per row, from the row's site (approved for its OSP segment)."""
    out = np.empty(len(site), dtype=object)
    for s in SITES:
        pool = suppliers[(suppliers["site"] == s) & (suppliers["kind"] == kind)]
        if segment is None:
            rows = np.flatnonzero(site == s)
            out[rows] = pool["supplier_id"].to_numpy()[rng.integers(len(pool), size=len(rows))]
            continue
        for seg in OSP_SEGMENTS:
            rows = np.flatnonzero((site == s) & (segment == seg))
            approved = pool[pool["processes"].str.split(",").apply(lambda procs, seg=seg: seg in procs)]
            out[rows] = approved["supplier_id"].to_numpy()[rng.integers(len(approved), size=len(rows))]
    return out


def _supplier_currency(suppliers: pd.DataFrame, supplier_id: np.ndarray) -> np.ndarray:
    lookup = dict(zip(suppliers["supplier_id"], suppliers["currency"]))
    return np.array([lookup[s] for s in supplier_id], dtype=object)


# ---------------------------------------------------------------------------- maintenance (CMMS)

def _maintenance(rng: np.random.Generator, n_mnt: int, n_def: int, equipment: pd.DataFrame,
                 suppliers: pd.DataFrame, items: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Maintenance work orders with tasks, planned services, labour and material issues."""
    demands = []
    for s in range(2):
        demands += [("lnk002_wo", s, n_def), ("lnk002_link", s, n_def), ("cst003_material", s, n_def)]
    demands.append(("quarantine_status", 0, n_def))
    demands += [(CST002_ROLE, s, n_def) for s in range(2)]
    role, forced_site = _reserve(rng, n_mnt, demands)
    site_index = np.where(forced_site >= 0, forced_site, rng.integers(2, size=n_mnt))
    site = np.asarray(SITES, dtype=object)[site_index]
    status = _choice(rng, MNT_STATUSES, n_mnt, MNT_STATUS_P)
    status[np.isin(role, ["lnk002_wo", "quarantine_status"])] = "APPR"
    status[np.isin(role, ["lnk002_link", "cst003_material"])] = "INPRG"
    status[role == CST002_ROLE] = "INPRG"
    n_tasks = rng.integers(1, 4, size=n_mnt)
    has_service = (rng.random(n_mnt) < 0.2) & (role == "")
    service_task = (rng.random(n_mnt) * n_tasks).astype("int64")

    # Maximo numbers tasks from the same sequence as their parent work orders
    block = 1 + n_tasks
    wonum = 10001 + np.cumsum(block) - block
    open_ = np.isin(status, ["WAPPR", "APPR", "INPRG"])
    report = np.where(open_, -rng.integers(30, 121, size=n_mnt), -rng.integers(30, 700, size=n_mnt))
    sched = report + rng.integers(1, 8, size=n_mnt)
    started = np.isin(status, ["INPRG", "COMP", "CLOSE"])
    finished = np.isin(status, ["COMP", "CLOSE"])
    actstart = np.where(started, sched + rng.integers(0, 4, size=n_mnt), 0)
    actfinish = np.where(finished, actstart + rng.integers(1, 16, size=n_mnt), 0)
    status_day = np.select([status == "CLOSE", finished, started], [actfinish + rng.integers(1, 4, size=n_mnt),
                                                                     actfinish, actstart], report)
    status_day = np.minimum(status_day, -1)
    worktype = _choice(rng, ("PM", "CM", "EM"), n_mnt, (0.5, 0.4, 0.1))
    units = equipment[~equipment["is_line"]]
    eqnum = np.empty(n_mnt, dtype=object)
    for s in SITES:
        rows = np.flatnonzero(site == s)
        pool = units.loc[units["site"] == s, "eqnum"].to_numpy()
        eqnum[rows] = pool[rng.integers(len(pool), size=len(rows))]
    currency = np.array([SITE_CURRENCY[s] for s in site], dtype=object)
    wos = pd.DataFrame({
        "site": site, "wonum": wonum, "role": role, "status": status, "worktype": worktype,
        "description": [f"{wt} work on {eq}" for wt, eq in zip(worktype, eqnum)],
        "eqnum": eqnum, "priority": rng.integers(1, 5, size=n_mnt),
        "report_day": report, "sched_day": sched, "actstart_day": actstart, "actfinish_day": actfinish,
        "status_day": status_day, "started": started, "finished": finished,
        "est_lab": np.round(rng.uniform(200, 4000, size=n_mnt), 2),
        "est_mat": np.round(rng.uniform(50, 2500, size=n_mnt), 2),
        "est_serv": 0.0, "currency": currency,
        "glaccount": [f"{'6100' if s == 'NORTH' else '6200'}-{wt}" for s, wt in zip(site, worktype)],
        "gen_po": "", "gen_po_line": 0, "n_tasks": n_tasks, "has_service": has_service,
        "service_task": service_task,
    })
    wos.loc[wos["role"] == "quarantine_status", "status"] = UNKNOWN_MAXIMO_STATUS

    # tasks
    parent_row = np.repeat(np.arange(n_mnt), n_tasks)
    k = _within_group_index(n_tasks)
    parent_status = status[parent_row]
    task_status = parent_status.copy()
    inprg = parent_status == "INPRG"
    task_status[inprg] = _choice(rng, ("APPR", "INPRG", "COMP"), int(inprg.sum()))
    tasks = pd.DataFrame({
        "site": site[parent_row], "wonum": wonum[parent_row] + 1 + k, "parent": wonum[parent_row],
        "taskid": 10 * (k + 1), "status": task_status,
        "description": _choice(rng, ("Isolate and lock out", "Inspect", "Replace parts", "Test run",
                                     "Clean and lubricate", "Align"), len(parent_row)),
        "sched_day": sched[parent_row], "actstart_day": np.where(np.isin(task_status, ["INPRG", "COMP", "CLOSE"]),
                                                                 actstart[parent_row], 0),
        "actfinish_day": np.where(np.isin(task_status, ["COMP", "CLOSE"]),
                                  np.where(finished[parent_row], actfinish[parent_row],
                                           np.minimum(actstart[parent_row] + 2, -1)), 0),
        "status_day": status_day[parent_row],
        "parent_row": parent_row,
    })
    tasks["has_service"] = has_service[parent_row] & (k == service_task[parent_row])

    # planned outside services (WPSERVICE), one per task that has one
    svc_tasks = tasks[tasks["has_service"]]
    svc_item = _choice(rng, _SERVICE_ITEMS, len(svc_tasks), (0.5, 0.3, 0.2))
    svc_site = svc_tasks["site"].to_numpy()
    services = pd.DataFrame({
        "site": svc_site, "parent": svc_tasks["parent"].to_numpy(), "taskid": svc_tasks["taskid"].to_numpy(),
        "task_status": svc_tasks["status"].to_numpy(), "parent_row": svc_tasks["parent_row"].to_numpy(),
        "itemnum": svc_item,
        "description": [_SERVICE_TEXT[i][int(j)] for i, j in zip(svc_item, rng.integers(4, size=len(svc_tasks)))],
        "vendor": _pick_supplier(rng, suppliers, svc_site, "service"),
        "qty": 1.0, "unitcost": np.round(rng.uniform(400, 12000, size=len(svc_tasks)), 2),
    })
    services["process"] = services["itemnum"].map({"SVC-REPAIR": "repair", "SVC-FIELD": "service",
                                                   "SVC-CALIB": "calibration"})
    wos.loc[services["parent_row"].to_numpy(), "est_serv"] = services["unitcost"].to_numpy()

    # labour and material for work that has started
    worked = np.flatnonzero(started)
    window_end = np.where(finished, actfinish, -1)
    n_lab = rng.integers(1, 5, size=len(worked))
    lab_row = np.repeat(worked, n_lab)
    span = np.maximum(window_end[lab_row] - actstart[lab_row], 0)
    lab_day = actstart[lab_row] + (rng.random(len(lab_row)) * (span + 1)).astype("int64")
    craft = _choice(rng, tuple(_CRAFT_RATE), len(lab_row))
    rate = np.array([_CRAFT_RATE[c] for c in craft]) * np.where(site[lab_row] == "SOUTH", 0.92, 1.0)
    hours = rng.integers(1, 17, size=len(lab_row)) / 2.0
    labour = pd.DataFrame({
        "labtransid": np.arange(500001, 500001 + len(lab_row)), "site": site[lab_row], "refwo": wonum[lab_row],
        "laborcode": [f"{s[0]}{int(n):04d}" for s, n in zip(site[lab_row], rng.integers(1, 60, size=len(lab_row)))],
        "craft": craft, "hours": hours, "rate": np.round(rate, 2), "start_day": lab_day,
        "enter_day": np.minimum(lab_day + rng.integers(0, 3, size=len(lab_row)), -1),
    })
    labour["linecost"] = np.round(labour["hours"] * labour["rate"], 2)

    n_mat = rng.integers(0, 4, size=len(worked))
    n_mat[np.isin(role[worked], ["cst003_material"])] = np.maximum(n_mat[np.isin(role[worked], ["cst003_material"])], 1)
    mat_row = np.repeat(worked, n_mat)
    parts = items[items["kind"].isin(["SP", "CS"])].reset_index(drop=True)
    pick = rng.integers(len(parts), size=len(mat_row))
    mspan = np.maximum(window_end[mat_row] - actstart[mat_row], 0)
    mat_day = actstart[mat_row] + (rng.random(len(mat_row)) * (mspan + 1)).astype("int64")
    is_box = parts["kind"].to_numpy()[pick] == "CS"
    std = parts["std_cost"].to_numpy()[pick]
    # boxed consumables are issued by the piece
    unit_cost = np.where(is_box, std / np.maximum(parts["box_qty"].to_numpy()[pick], 1), std)
    unit_cost = unit_cost * np.where(site[mat_row] == "SOUTH", 1 / 1.08, 1.0) * rng.uniform(0.95, 1.1, size=len(mat_row))
    material = pd.DataFrame({
        "matusetransid": np.arange(700001, 700001 + len(mat_row)), "site": site[mat_row], "refwo": wonum[mat_row],
        "itemnum": parts["item_number"].to_numpy()[pick],
        "description": parts["description"].to_numpy()[pick],
        "qty": rng.integers(1, 11, size=len(mat_row)).astype(float),
        "unitcost": np.round(unit_cost, 2), "currency": currency[mat_row], "trans_day": mat_day,
        "lot": np.where(rng.random(len(mat_row)) < 0.3,
                        [f"ML{int(x):06d}" for x in rng.integers(1, 999999, size=len(mat_row))], ""),
        "host_role": role[mat_row],
    })
    # a spare bought from a Swiss maker, issued at its CHF cost: nobody publishes a CHF rate
    chf_hosts = material[material["host_role"] == "cst003_material"].drop_duplicates("refwo").index
    material.loc[chf_hosts, "currency"] = UNCONVERTIBLE_CURRENCY
    material.loc[chf_hosts, "description"] = "Spindle bearing (Swiss maker, CHF)"
    material["linecost"] = np.round(material["qty"] * material["unitcost"], 2)
    return {"wos": wos, "tasks": tasks, "services": services, "labour": labour, "material": material}


# ---------------------------------------------------------------------------- production (MES)

def _production(rng: np.random.Generator, n_prod: int, n_def: int, items: pd.DataFrame,
                suppliers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Production work orders with routings, OSP operations, inspections and consumed material."""
    demands = []
    for s in range(2):
        demands += [("osp001", s, n_def), ("osp005", s, n_def), ("lnk002_op", s, n_def),
                    ("trc001", s, n_def), ("lnk001_op", s, n_def)]
    demands += [("quarantine_segment", 0, n_def), ("cst003_invoice", 1, n_def)]
    for s in range(2):
        demands += [("lnk003", s, n_def), ("lnk004", s, n_def), ("lnk005", s, n_def), ("lnk007", s, n_def)]
    demands += receiving.production_demands(n_def)
    demands += outside_processing.demands(n_def)
    demands += [(CST004_ROLE, s, n_def) for s in range(2)]
    demands += traceability.production_demands(n_def)
    role, forced_site = _reserve(rng, n_prod, demands)
    site_index = np.where(forced_site >= 0, forced_site, rng.integers(2, size=n_prod))
    site = np.asarray(SITES, dtype=object)[site_index]
    state = _choice(rng, MES_STATES, n_prod, MES_STATE_P)
    n_ops = rng.integers(3, 7, size=n_prod)
    has_osp = rng.random(n_prod) < 0.3
    forced = {"osp001": ("Released", True), "osp005": ("Running", True), "lnk002_op": ("Released", True),
              "trc001": ("Completed", False), "lnk001_op": ("Released", False),
              "quarantine_segment": ("Released", False), "cst003_invoice": ("Closed", True),
              "lnk003": ("Released", True), "lnk004": ("Cancelled", True), "lnk005": ("Closed", True),
              "lnk007": ("Released", True), **receiving.FORCED_STATES, **outside_processing.FORCED,
              **traceability.FORCED_STATES}
    for name, (st, osp) in forced.items():
        rows = role == name
        state[rows] = st
        has_osp[rows] = osp
    state[role == CST004_ROLE], has_osp[role == CST004_ROLE] = "Closed", True
    osp_pos = 1 + (rng.random(n_prod) * (n_ops - 2)).astype("int64")
    current = (rng.random(n_prod) * n_ops).astype("int64")
    current[role == "osp005"] = osp_pos[role == "osp005"]
    outside_processing.place_running_operation(role, current, osp_pos)
    qty = rng.integers(1, 201, size=n_prod).astype(float)
    finished_items = items[items["kind"] == "FG"]
    item = finished_items["item_number"].to_numpy()[rng.integers(len(finished_items), size=n_prod)]

    # operations, laid out WO after WO
    wo_row = np.repeat(np.arange(n_prod), n_ops)
    k = _within_group_index(n_ops)
    last = k == n_ops[wo_row] - 1
    is_osp = has_osp[wo_row] & (k == osp_pos[wo_row])
    segment = _choice(rng, INHOUSE_SEGMENTS, len(wo_row))
    segment[k == 0] = "MACHINING"
    segment[last] = "INSPECTION"
    segment[is_osp] = _choice(rng, OSP_SEGMENTS, int(is_osp.sum()))
    segment[is_osp & np.isin(role[wo_row], outside_processing.PER_KG_ROLES)] = "HEAT_TREAT"
    duration = np.where(is_osp, 7, 2)
    duration[is_osp & (role[wo_row] == "osp005")] = 15
    step = duration + 1
    first_of_wo = np.cumsum(n_ops) - n_ops
    exclusive = np.cumsum(step) - step
    rel_start = exclusive - exclusive[first_of_wo][wo_row]

    wo_state = state
    current_rel = rel_start[first_of_wo + current]
    lateness = np.where(np.isin(role, ["osp005", *outside_processing.LATE_ROLES]), 25, 1)
    wo_start = np.select(
        [wo_state == "Running", np.isin(wo_state, ["Released", "Forecast"])],
        [-current_rel - lateness, rng.integers(1, 41, size=n_prod)],
        -rng.integers(60, HORIZON_DAYS - 30, size=n_prod),
    )
    op_start = wo_start[wo_row] + rel_start
    op_end = op_start + duration
    wo_end = op_end[first_of_wo + n_ops - 1]

    op_state = np.asarray(state, dtype=object)[wo_row].copy()
    running = op_state == "Running"
    cur = current[wo_row]
    op_state[running & (k < cur)] = "Completed"
    op_state[running & (k > cur)] = "Released"

    # WO numbers follow the start date, the way an MES hands them out
    order = np.argsort(wo_start, kind="stable")
    seq = np.empty(n_prod, dtype="int64")
    seq[order] = np.arange(1, n_prod + 1)
    created = wo_start - rng.integers(2, 10, size=n_prod)
    year = (to_dates(created).astype("datetime64[Y]").astype(int) + 1970) % 100
    wo_number = np.array([f"MO-{int(y):02d}-{int(q):06d}" for y, q in zip(year, seq)], dtype=object)
    lot = np.array([f"LOT-{int(q):07d}" for q in seq], dtype=object)

    inspector = _choice(rng, ("QA-011", "QA-017", "QA-023", "QA-031"), len(wo_row))
    insp_required = last
    signed = insp_required & np.isin(op_state, ["Completed", "Closed"])
    signed[signed & (role[wo_row] == "trc001")] = False
    work_centre_pool = {"MACHINING": "CNC", "GRINDING": "GRD", "ASSEMBLY": "ASM", "INSPECTION": "QC"}
    site_letter = np.array([s[0] for s in site], dtype=object)[wo_row]
    work_centre = np.array([f"WC-{sl}-{work_centre_pool.get(sg, 'OSP')}{int(n)}" for sl, sg, n in
                            zip(site_letter, segment, rng.integers(1, 4, size=len(wo_row)))], dtype=object)
    ops = pd.DataFrame({
        "wo_row": wo_row, "wo_number": wo_number[wo_row], "site": site[wo_row], "seq": 10 * (k + 1),
        "segment": segment, "is_osp": is_osp, "state": op_state,
        "start_day": op_start, "end_day": op_end, "qty": qty[wo_row], "work_centre": work_centre,
        "insp_required": insp_required, "signed_by": np.where(signed, inspector, ""),
        "supplier": "", "po_ref": "", "po_line_ref": "", "role": role[wo_row],
        "description": [f"{sg.replace('_', ' ').title()} op {10 * (kk + 1)}" for sg, kk in zip(segment, k)],
    })
    ops["process"] = ops["segment"].str.lower()
    osp_rows = np.flatnonzero(is_osp)
    ops.loc[osp_rows, "supplier"] = _pick_supplier(rng, suppliers, site[wo_row][osp_rows], "osp",
                                                   segment[osp_rows])
    ops.loc[osp_rows, "work_centre"] = [f"WC-{sl}-OSP" for sl in site_letter[osp_rows]]
    quarantined = np.flatnonzero((role[wo_row] == "quarantine_segment") & (k == 0))
    ops.loc[quarantined, "segment"] = UNKNOWN_SEGMENT
    ops.loc[quarantined, "description"] = "Laser marking op 10"

    wos = pd.DataFrame({
        "wo_number": wo_number, "site": site, "state": state, "role": role, "item": item, "qty": qty,
        "lot": lot, "priority": rng.integers(1, 6, size=n_prod), "start_day": wo_start, "end_day": wo_end,
        "created_day": created, "n_ops": n_ops,
        "description": [f"{d} x{int(q)}" for d, q in zip(
            items.set_index("item_number").loc[item, "description"].to_numpy(), qty)],
    })

    # material consumed by in-house operations that have started
    consuming = np.flatnonzero(np.isin(segment, ["MACHINING", "GRINDING", "ASSEMBLY", UNKNOWN_SEGMENT])
                               & np.isin(op_state, ["Running", "Completed", "Closed"]))
    n_mat = rng.integers(0, 3, size=len(consuming))
    mat_op = np.repeat(consuming, n_mat)
    raw = items[items["kind"].isin(["RM", "SP"])].reset_index(drop=True)
    pick = rng.integers(len(raw), size=len(mat_op))
    materials = pd.DataFrame({
        "wo_number": ops["wo_number"].to_numpy()[mat_op], "seq": ops["seq"].to_numpy()[mat_op],
        "mat_id": _within_group_index(n_mat[n_mat > 0]) + 1 if len(mat_op) else np.array([], dtype="int64"),
        "item": raw["item_number"].to_numpy()[pick], "uom": raw["uom"].to_numpy()[pick],
        "qty": np.round(rng.uniform(0.5, 40.0, size=len(mat_op)), 3),
        "lot": [f"RL{int(x):06d}" for x in rng.integers(1, 999999, size=len(mat_op))],
    })
    return {"wos": wos, "ops": ops, "materials": materials}


# ---------------------------------------------------------------------------- purchasing (ERP)

def _osp_lines(rng: np.random.Generator, prod: dict[str, pd.DataFrame], suppliers: pd.DataFrame) -> pd.DataFrame:
    """One PO line (on its own PO) for every bought OSP operation, and the planted link defects' lines.

    Planted: a second line for the same operation (LNK-007), a line left open after its work order
    was cancelled (LNK-004) and a line of a closed work order received but never invoiced (LNK-005).
    """
    ops, wos = prod["ops"], prod["wos"]
    bought = ops["is_osp"] & ops["state"].isin(MES_BOUGHT_STATES) & ~ops["role"].isin(["osp001", "lnk002_op"])
    bought &= wos["state"].to_numpy()[ops["wo_row"].to_numpy()] != "Cancelled"
    # the outside work of a cancelled order was bought before the order was cancelled
    bought |= ops["is_osp"] & (ops["role"] == "lnk004")
    sel = ops[bought]
    # the operation bought a second time, on a PO of its own
    sel = pd.concat([sel, sel[sel["role"] == "lnk007"]])
    n = len(sel)
    site = sel["site"].to_numpy()
    state = sel["state"].to_numpy()
    done = np.isin(state, ["Completed", "Closed"])
    status = np.where(done, np.where((state == "Closed") | (rng.random(n) < 0.7), "closed", "received"), "open")
    role = sel["role"].to_numpy()
    # received in full, the invoice never came (only closed lines are invoiced)
    status[role == "lnk005"] = "received"
    # still open: the buyer never cancelled it; due after AS_OF, so it is not overdue as well
    need_by = np.where(role == "lnk004", rng.integers(5, 40, size=n), sel["end_day"].to_numpy())
    currency = _supplier_currency(suppliers, sel["supplier"].to_numpy())
    base = np.array([_OSP_PRICE[s] for s in sel["segment"]])
    price = base * rng.uniform(0.8, 1.3, size=n) / np.where(currency == "USD", 1.0, np.where(currency == "GBP", 1.27, 1.08))
    return pd.DataFrame(dict(
        erp=np.array([ERP_OF_SITE[s] for s in site], dtype=object), site=site, kind="osp", item="",
        description=[f"{sg.replace('_', ' ').title()} of {w} op {q}" for sg, w, q in
                     zip(sel["segment"], sel["wo_number"], sel["seq"])],
        qty=sel["qty"].to_numpy(), uom="EA", unit_price=np.round(price, 4), currency=currency,
        supplier=sel["supplier"].to_numpy(),
        order_day=np.minimum(sel["start_day"].to_numpy() - rng.integers(3, 16, size=n), -rng.integers(1, 21, size=n)),
        need_by_day=need_by, status=status,
        receipt_day=np.where(done, np.minimum(sel["end_day"].to_numpy(), -2), 0),
        wo_ref=sel["wo_number"].to_numpy(), op_ref=sel["seq"].to_numpy(), process=sel["process"].to_numpy(),
        segment=sel["segment"].to_numpy(), account=[f"{'5400' if s == 'NORTH' else '5410'}-OSP" for s in site],
        origin="osp", origin_row=sel.index.to_numpy(), role=sel["role"].to_numpy(),
        lot=wos["lot"].to_numpy()[sel["wo_row"].to_numpy()],
    ))


def _service_lines(rng: np.random.Generator, mnt: dict[str, pd.DataFrame], suppliers: pd.DataFrame) -> pd.DataFrame:
    """One PO line (on its own PO) for every planned service of an approved maintenance WO."""
    services, wos = mnt["services"], mnt["wos"]
    parent_status = wos["status"].to_numpy()[services["parent_row"].to_numpy()]
    sel = services[np.isin(parent_status, MNT_BOUGHT_STATUSES)]
    parent = wos.iloc[sel["parent_row"].to_numpy()]
    n = len(sel)
    task_done = sel["task_status"].isin(["COMP", "CLOSE"]).to_numpy()
    parent_status = parent["status"].to_numpy()
    status = np.where(task_done, np.where((parent_status == "CLOSE") | (rng.random(n) < 0.6), "closed", "received"), "open")
    receipt_day = np.where(parent["finished"].to_numpy(), np.minimum(parent["actfinish_day"].to_numpy(), -2),
                           np.minimum(parent["actstart_day"].to_numpy() + 2, -2))
    receipt_day = np.where(task_done, receipt_day, 0)
    need_by = np.where(task_done, receipt_day + rng.integers(-3, 4, size=n), rng.integers(3, 46, size=n))
    currency = _supplier_currency(suppliers, sel["vendor"].to_numpy())
    site = sel["site"].to_numpy()
    return pd.DataFrame(dict(
        erp=np.array([ERP_OF_SITE[s] for s in site], dtype=object), site=site, kind="service", item="",
        description=sel["description"].to_numpy(), qty=1.0, uom="EA",
        unit_price=np.round(sel["unitcost"].to_numpy() / np.where(currency == "GBP", 1.17, 1.0), 4),
        currency=currency, supplier=sel["vendor"].to_numpy(),
        order_day=np.minimum(parent["report_day"].to_numpy() + rng.integers(1, 4, size=n), -1),
        need_by_day=need_by, status=status, receipt_day=receipt_day,
        wo_ref=sel["parent"].astype(str).to_numpy(), op_ref=sel["taskid"].to_numpy(),
        process=sel["process"].to_numpy(), segment="", account=[f"{'6100' if s == 'NORTH' else '6200'}-SVC" for s in site],
        origin="service", origin_row=sel.index.to_numpy(), role="", lot="",
    ))


def _stock_lines(rng: np.random.Generator, scale: int, items: pd.DataFrame, suppliers: pd.DataFrame) -> pd.DataFrame:
    """Stock replenishment POs (one to four lines each) with no work-order reference."""
    frames = []
    purchasable = items[items["kind"].isin(["RM", "SP", "CS"])].reset_index(drop=True)
    for site in SITES:
        n_pos = max(6, scale // 8)
        n_lines = rng.integers(1, 5, size=n_pos)
        po_row = np.repeat(np.arange(n_pos), n_lines)
        supplier = _pick_supplier(rng, suppliers, np.full(n_pos, site, dtype=object), "stock")
        currency = _supplier_currency(suppliers, supplier)
        order_day = -rng.integers(1, HORIZON_DAYS - 60, size=n_pos)
        n = len(po_row)
        pick = rng.integers(len(purchasable), size=n)
        std = purchasable["std_cost"].to_numpy()[pick]
        fx = np.where(currency == "USD", 1.0, np.where(currency == "GBP", 1.27, 1.08))[po_row]
        need_by = order_day[po_row] + rng.integers(7, 31, size=n)
        future = need_by >= 0
        past_status = _choice(rng, ("closed", "received", "cancelled"), n, (0.8, 0.15, 0.05))
        status = np.where(future, np.where(rng.random(n) < 0.03, "cancelled", "open"), past_status)
        receipt_day = np.where(np.isin(status, ["closed", "received"]),
                               np.clip(need_by + rng.integers(-5, 5, size=n), order_day[po_row] + 1, -2), 0)
        frames.append(pd.DataFrame(dict(
            erp=ERP_OF_SITE[site], site=site, kind="stock", item=purchasable["item_number"].to_numpy()[pick],
            description=purchasable["description"].to_numpy()[pick],
            qty=rng.integers(1, 60, size=n).astype(float) * np.where(purchasable["kind"].to_numpy()[pick] == "RM", 5, 1),
            uom=purchasable["uom"].to_numpy()[pick], unit_price=np.round(std * rng.uniform(0.9, 1.2, size=n) / fx, 4),
            currency=currency[po_row], supplier=supplier[po_row], order_day=order_day[po_row],
            need_by_day=need_by, status=status, receipt_day=receipt_day, wo_ref="", op_ref=0, process="",
            segment="", account=f"{'1400' if site == 'NORTH' else '1410'}-INV", origin="stock",
            origin_row=-1, role="", lot="", stock_po=po_row,
        )))
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _number_pos(rng: np.random.Generator, lines: pd.DataFrame) -> pd.DataFrame:
    """PO numbers by order date per ERP; WO-driven lines each get a PO of their own."""
    lines = lines.copy()
    lines["stock_po"] = lines["stock_po"].fillna(-1).astype("int64")
    group = np.where(lines["stock_po"] >= 0, lines["stock_po"].astype(str) + "|" + lines["site"],
                     "x" + pd.RangeIndex(len(lines)).astype(str))
    lines["po_group"] = group
    first_day = lines.groupby("po_group", sort=False)["order_day"].transform("min")
    lines["order_day"] = first_day
    lines["po_number"] = 0
    lines["line_no"] = 0
    for erp, start in (("jde", 4501), ("soap", 1001)):
        mine = lines["erp"] == erp
        groups = lines.loc[mine, ["po_group", "order_day"]].drop_duplicates("po_group")
        groups = groups.sort_values(["order_day", "po_group"], kind="stable")
        numbers = dict(zip(groups["po_group"], range(start, start + len(groups))))
        lines.loc[mine, "po_number"] = lines.loc[mine, "po_group"].map(numbers).astype("int64")
    lines = lines.sort_values(["erp", "po_number", "po_group"], kind="stable").reset_index(drop=True)
    lines["line_no"] = lines.groupby(["erp", "po_number"]).cumcount() + 1
    lines["po_label"] = po_label(lines["erp"], lines["po_number"])
    return lines


def po_label(erp: pd.Series, number: pd.Series) -> pd.Series:
    """The PO number as the whole plant writes it: plain for JD Edwards, 'PO-0004711' for the legacy ERP."""
    plain = number.astype("int64").astype(str)
    legacy = "PO-" + number.astype("int64").astype(str).str.zfill(7)
    return pd.Series(np.where(erp == "soap", legacy, plain), index=number.index, dtype=object)


def _receipts_and_invoices(rng: np.random.Generator, lines: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One receipt per received line, one invoice per closed line."""
    got = lines[lines["status"].isin(["received", "closed"])].copy()
    n = len(got)
    box = dict(zip(items["item_number"], items["box_qty"]))
    factor = got["item"].map(box).fillna(0).astype("int64").to_numpy()
    # some boxes are counted in on the dock piece by piece: the item's conversion covers it
    by_piece = (got["uom"].to_numpy() == "BX") & (factor > 0) & (rng.random(n) < 0.3)
    receipts = pd.DataFrame({
        "erp": got["erp"].to_numpy(), "site": got["site"].to_numpy(), "po_number": got["po_number"].to_numpy(),
        "po_label": got["po_label"].to_numpy(), "line_no": got["line_no"].to_numpy(),
        "qty": np.where(by_piece, got["qty"].to_numpy() * factor, got["qty"].to_numpy()),
        "uom": np.where(by_piece, "EA", got["uom"].to_numpy()), "day": got["receipt_day"].to_numpy(),
        "lot": np.where(got["lot"].to_numpy() != "", got["lot"].to_numpy(),
                        [f"SL{int(x):06d}" for x in rng.integers(1, 999999, size=n)]),
        "certificate": np.where(got["kind"].to_numpy() == "osp",
                                [f"COC-{int(x):06d}" for x in rng.integers(1, 999999, size=n)], ""),
        "line_qty": got["qty"].to_numpy(), "line_uom": got["uom"].to_numpy(),
    })
    receipts = receipts.sort_values(["erp", "day", "po_number", "line_no"], kind="stable").reset_index(drop=True)
    receipts["receipt_no"] = receipts.groupby("erp").cumcount() + 1
    closed = lines[lines["status"] == "closed"]
    m = len(closed)
    inv_day = np.minimum(closed["receipt_day"].to_numpy() + rng.integers(1, 21, size=m), -1)
    amount = np.round(closed["qty"].to_numpy() * closed["unit_price"].to_numpy(), 2)
    invoices = pd.DataFrame({
        "erp": closed["erp"].to_numpy(), "site": closed["site"].to_numpy(),
        "po_number": closed["po_number"].to_numpy(), "po_label": closed["po_label"].to_numpy(),
        "line_no": closed["line_no"].to_numpy(), "qty": closed["qty"].to_numpy(), "amount": amount,
        "currency": closed["currency"].to_numpy(), "day": np.maximum(inv_day, closed["receipt_day"].to_numpy()),
        "supplier": closed["supplier"].to_numpy(), "role": closed["role"].to_numpy(),
        "uom": closed["uom"].to_numpy(),
    })
    invoices = invoices.sort_values(["erp", "day", "po_number", "line_no"], kind="stable").reset_index(drop=True)
    invoices["invoice_no"] = invoices.groupby("erp").cumcount() + 1
    invoices["supplier_invoice"] = [f"SI-{int(x):07d}" for x in rng.integers(1, 9_999_999, size=len(invoices))]
    return receipts, invoices


def _headers(rng: np.random.Generator, lines: pd.DataFrame) -> pd.DataFrame:
    """PO headers; the header status follows the lines, its last change the latest line event."""
    g = lines.groupby(["erp", "po_number"], sort=True)
    headers = g.agg(site=("site", "first"), po_label=("po_label", "first"), supplier=("supplier", "first"),
                    currency=("currency", "first"), order_day=("order_day", "min"), kind=("kind", "first"),
                    changed_day=("changed_day", "max")).reset_index()
    flags = pd.DataFrame({"open": lines["status"] == "open", "received": lines["status"] == "received",
                          "cancelled": lines["status"] == "cancelled", "erp": lines["erp"],
                          "po_number": lines["po_number"]}).groupby(["erp", "po_number"], sort=True)
    any_open, any_received = flags["open"].any().to_numpy(), flags["received"].any().to_numpy()
    all_cancelled = flags["cancelled"].all().to_numpy()
    headers["status"] = np.select([all_cancelled, any_open, any_received], ["cancelled", "open", "received"], "closed")
    headers["buyer"] = _choice(rng, ("JSMITH", "AKOWALSKI", "MBRAUN", "LROSSI", "TNGUYEN"), len(headers))
    headers["approved"] = ~((headers["status"] == "open") & (rng.random(len(headers)) < 0.05))
    headers["changed_sec"] = rng.integers(6 * 3600, 19 * 3600, size=len(headers))
    return headers


def _last_changed(lines: pd.DataFrame, receipts: pd.DataFrame, invoices: pd.DataFrame) -> pd.Series:
    key = ["erp", "po_number", "line_no"]
    day = lines.set_index(key)["order_day"]
    for events in (receipts, invoices):
        latest = events.groupby(key)["day"].max()
        day = pd.concat([day, latest], axis=1).max(axis=1)
    return pd.Series(day.reindex(pd.MultiIndex.from_frame(lines[key])).to_numpy(), index=lines.index)


# ---------------------------------------------------------------------------- the plant

def generate_plant(scale: int = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> Plant:
    """Generate the plant with about ``scale`` work orders and every kind of defect planted.

    The same ``(scale, seed)`` always gives the same plant. Very small scales are topped up with
    the work orders the planted defects need (about 50 at least).
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive number of work orders, not {scale}")
    rng = np.random.default_rng(seed)
    n_def = defect_count(scale)
    n_mnt = max(round(scale * 0.4), 9 * n_def + 6)
    n_prod = max(scale - round(scale * 0.4), 54 * n_def + 24)

    suppliers = _suppliers(rng, scale)
    outside_processing.approve_service_suppliers(suppliers)
    items = _items(rng, scale)
    uom = _uom_conversions(items)
    fx = _fx_rates(rng)
    equipment = _equipment(rng, n_mnt)
    mnt = _maintenance(rng, n_mnt, n_def, equipment, suppliers, items)
    prod = _production(rng, n_prod, n_def, items, suppliers)
    receiving.prepare_hosts(prod, suppliers)
    uom = outside_processing.shape_hosts(prod, items, uom)

    defects: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    extra = _planted_lines(rng, n_def, prod, mnt, suppliers)
    stock = _stock_lines(rng, scale, items, suppliers)
    lines = pd.concat([_osp_lines(rng, prod, suppliers), _service_lines(rng, mnt, suppliers), stock, extra,
                       traceability.material_lines(seed, prod, items, suppliers)], ignore_index=True)
    for column, fill in (("stock_po", -1), ("lot", ""), ("role", ""), ("segment", "")):
        lines[column] = lines[column].fillna(fill)
    lines = _number_pos(rng, lines)
    lines["bad_need_by"] = False
    lines = _plant_bad_need_by(rng, lines, n_def, quarantine)
    lines = _plant_negative_price(lines, n_def, quarantine, defects)
    outside_processing.plant_lines(rng, lines, suppliers, prod)
    receipts, invoices = _receipts_and_invoices(rng, lines, items)
    receipts, invoices = receiving.plant_receipts_and_invoices(lines, receipts, invoices, fx)
    receipts = outside_processing.split_short_receipts(receipts, lines)
    lines["received_qty"] = 0.0
    received = receipts.assign(line_qty_in_line_uom=np.where(
        receipts["uom"] == receipts["line_uom"], receipts["qty"], receipts["line_qty"]))
    got = received.groupby(["erp", "po_number", "line_no"])["line_qty_in_line_uom"].sum()
    lines["received_qty"] = got.reindex(pd.MultiIndex.from_frame(lines[["erp", "po_number", "line_no"]])).fillna(0.0).to_numpy()
    lines["changed_day"] = _last_changed(lines, receipts, invoices)
    lines["changed_sec"] = rng.integers(6 * 3600, 19 * 3600, size=len(lines))
    headers = _headers(rng, lines)
    # a header changes whenever one of its lines does
    latest = lines.groupby(["erp", "po_number"])["changed_day"].max()
    headers["changed_day"] = latest.reindex(pd.MultiIndex.from_frame(headers[["erp", "po_number"]])).to_numpy()
    receipts["changed_sec"] = rng.integers(6 * 3600, 19 * 3600, size=len(receipts))
    invoices["changed_sec"] = rng.integers(6 * 3600, 19 * 3600, size=len(invoices))

    _link_work_to_pos(rng, lines, mnt, prod)
    po_links = _maximo_po_links(rng, lines, mnt, n_def)
    _plant_wo_side_defects(rng, n_def, lines, mnt, prod)
    _plant_link_disagreement(lines)
    _plant_invoice_currency(invoices)
    po_links, link_truth = suggestions.plant_unlinked_lines(seed, scale, lines, mnt, prod, po_links)

    plant = Plant(
        scale=scale, seed=seed, suppliers=suppliers, items=items, uom_conversions=uom, fx_rates=fx,
        equipment=equipment, maint_wos=mnt["wos"], maint_tasks=mnt["tasks"], services=mnt["services"],
        labour=mnt["labour"], material_use=mnt["material"], po_links=po_links, prod_wos=prod["wos"],
        prod_ops=prod["ops"], prod_materials=prod["materials"], po_headers=headers, po_lines=lines,
        receipts=receipts, invoices=invoices, defects=defects, quarantine=quarantine, link_truth=link_truth,
    )
    settle_costs(plant, seed)
    _collect_defects(plant)
    traceability.plant_traceability(plant)
    return plant


def _planted_lines(rng: np.random.Generator, n_def: int, prod: dict[str, pd.DataFrame],
                   mnt: dict[str, pd.DataFrame], suppliers: pd.DataFrame) -> pd.DataFrame:
    """PO lines naming work that does not exist (LNK-001), each on a PO of its own."""
    wos = prod["wos"]
    rows = []
    for site in SITES:
        erp = ERP_OF_SITE[site]
        hosts = wos[(wos["role"] == "lnk001_op") & (wos["site"] == site)]["wo_number"].to_numpy()
        for i in range(n_def):
            # a typo'd maintenance WO number on the NORTH ERP, an unknown MES number on the SOUTH one
            missing_wo = str(900001 + i) if site == "NORTH" else f"MO-26-{900001 + i:06d}"
            rows.append(dict(site=site, erp=erp, role="lnk001_wo", wo_ref=missing_wo, op_ref=10 if site == "NORTH" else 30,
                             kind="service" if site == "NORTH" else "osp",
                             process="repair" if site == "NORTH" else "heat_treat",
                             segment="" if site == "NORTH" else "HEAT_TREAT",
                             description=f"Outside work for WO {missing_wo}"))
            rows.append(dict(site=site, erp=erp, role="lnk001_op", wo_ref=hosts[i], op_ref=MISSING_OP_SEQ,
                             kind="osp", process="plating", segment="PLATING",
                             description=f"Plating of {hosts[i]} op {MISSING_OP_SEQ}"))
    frame = pd.DataFrame(rows)
    n = len(frame)
    site = frame["site"].to_numpy()
    segment = np.where(frame["segment"] == "", "PLATING", frame["segment"]).astype(object)
    supplier = _pick_supplier(rng, suppliers, site, "osp", segment)
    currency = _supplier_currency(suppliers, supplier)
    frame = frame.assign(
        item="", qty=rng.integers(5, 50, size=n).astype(float), uom="EA",
        unit_price=np.round(rng.uniform(2.0, 9.0, size=n), 4), currency=currency, supplier=supplier,
        order_day=-rng.integers(2, 20, size=n), need_by_day=rng.integers(5, 40, size=n), status="open",
        receipt_day=0, account=[f"{'5400' if s == 'NORTH' else '5410'}-OSP" for s in site],
        origin="planted", origin_row=-1, lot="",
    )
    return frame


def _plant_bad_need_by(rng: np.random.Generator, lines: pd.DataFrame, n_def: int,
                       quarantine: list[dict[str, Any]]) -> pd.DataFrame:
    """Open stock lines on JD Edwards POs whose need-by date is no date (quarantined, never loaded)."""
    jde_stock = lines[(lines["erp"] == "jde") & (lines["kind"] == "stock")]
    pos = jde_stock["po_number"].drop_duplicates().to_numpy()
    chosen = np.sort(rng.choice(pos, size=min(n_def, len(pos)), replace=False))
    added = []
    for po in chosen:
        template = lines[(lines["erp"] == "jde") & (lines["po_number"] == po)].iloc[-1].copy()
        template["line_no"] = int(lines.loc[(lines["erp"] == "jde") & (lines["po_number"] == po), "line_no"].max()) + 1
        template["status"] = "open"
        template["receipt_day"] = 0
        template["need_by_day"] = 30
        template["bad_need_by"] = True
        template["role"] = "quarantine_need_by"
        added.append(template)
        quarantine.append({"ref": ("po_line", "jde", int(po), int(template["line_no"])), "source": "jde",
                           "stream": "po_lines", "field": "need_by_date", "reason_contains": "Julian",
                           "note": f"need-by date {INVALID_JULIAN} is not a JD Edwards Julian date (day 400)"})
    out = pd.concat([lines, pd.DataFrame(added)], ignore_index=True)
    return out.sort_values(["erp", "po_number", "line_no"], kind="stable").reset_index(drop=True)


def _plant_negative_price(lines: pd.DataFrame, n_def: int, quarantine: list[dict[str, Any]],
                          defects: list[dict[str, Any]]) -> pd.DataFrame:
    """Open stock lines on JD Edwards POs keyed with a negative unit price (a credit typed as a
    price): they map, but the po_line suite's "prices not negative" quarantines them (DQ-001).

    Chosen without the random generator, so that every other planted row stays where it was.
    """
    jde_stock = lines[(lines["erp"] == "jde") & (lines["kind"] == "stock")]
    taken = set(lines.loc[lines["role"] != "", "po_number"])
    pos = [po for po in jde_stock["po_number"].drop_duplicates().sort_values(ascending=False) if po not in taken]
    added = []
    for po in pos[:n_def]:
        on_po = lines[(lines["erp"] == "jde") & (lines["po_number"] == po)]
        template = on_po.iloc[-1].copy()
        template["line_no"] = int(on_po["line_no"].max()) + 1
        template["status"] = "open"
        template["receipt_day"] = 0
        template["need_by_day"] = 30
        template["unit_price"] = -abs(float(template["unit_price"]))
        template["role"] = "dq_negative_price"
        added.append(template)
        ref = ("po_line", "jde", int(po), int(template["line_no"]))
        quarantine.append({"ref": ref, "source": "jde", "stream": "po_lines", "field": "unit_price",
                           "reason_contains": "unit price is not negative",
                           "note": f"unit price {template['unit_price']} is negative: the po_line suite holds it back"})
        defects.append(_defect("DQ-001", "po_line", "jde", ref,
                               f"unit price {template['unit_price']} fails the po_line suite's expectation that "
                               f"prices are not negative; the line is quarantined, the rest of its PO loads"))
    out = pd.concat([lines, pd.DataFrame(added)], ignore_index=True)
    return out.sort_values(["erp", "po_number", "line_no"], kind="stable").reset_index(drop=True)


def _link_work_to_pos(rng: np.random.Generator, lines: pd.DataFrame, mnt: dict[str, pd.DataFrame],
                      prod: dict[str, pd.DataFrame]) -> None:
    """WO-side references: Maximo's GENERATEDFORPO and, on about half the OSP ops, the MES's PO params."""
    service = lines[lines["origin"] == "service"]
    services = mnt["services"]
    parent_rows = services.loc[service["origin_row"].to_numpy(), "parent_row"].to_numpy()
    mnt["wos"].loc[parent_rows, "gen_po"] = service["po_label"].to_numpy()
    mnt["wos"].loc[parent_rows, "gen_po_line"] = service["line_no"].to_numpy()
    osp = lines[lines["origin"] == "osp"]
    named = rng.random(len(osp)) < 0.5
    # the disagreement planted for LNK-003 needs the op to name its line; the twice-bought op names
    # neither of its lines, so it is a double buy and not also a disagreement
    named[(osp["role"] == "lnk003").to_numpy()] = True
    named[(osp["role"] == "lnk007").to_numpy()] = False
    ops = prod["ops"]
    op_rows = osp["origin_row"].to_numpy()[named]
    ops.loc[op_rows, "po_ref"] = osp["po_label"].to_numpy()[named]
    ops.loc[op_rows, "po_line_ref"] = osp["line_no"].astype(str).to_numpy()[named]


def _maximo_po_links(rng: np.random.Generator, lines: pd.DataFrame, mnt: dict[str, pd.DataFrame],
                     n_def: int) -> pd.DataFrame:
    """Maximo's interfaced copy of the PO lines raised for its work orders (POLINE), plus links to
    lines the ERP does not have (LNK-002)."""
    service = lines[lines["origin"] == "service"]
    links = pd.DataFrame({
        "site": service["site"].to_numpy(), "erp": service["erp"].to_numpy(), "ponum": service["po_label"].to_numpy(),
        "polinenum": service["line_no"].to_numpy(), "refwo": service["wo_ref"].astype("int64").to_numpy(),
        "description": service["description"].to_numpy(), "qty": service["qty"].to_numpy(),
        "unitcost": service["unit_price"].to_numpy(), "enter_day": service["order_day"].to_numpy(), "role": "",
    })
    wos = mnt["wos"]
    planted = []
    for site in SITES:
        hosts = wos[(wos["role"] == "lnk002_link") & (wos["site"] == site)]
        stock_pos = lines[(lines["site"] == site) & (lines["kind"] == "stock")]["po_label"].drop_duplicates().to_numpy()
        chosen = rng.choice(stock_pos, size=len(hosts), replace=len(stock_pos) < len(hosts))
        for (_, host), ponum in zip(hosts.iterrows(), chosen):
            planted.append({"site": site, "erp": ERP_OF_SITE[site], "ponum": ponum, "polinenum": MISSING_LINE_NUMBER,
                            "refwo": int(host["wonum"]), "description": "Contractor call-out",
                            "qty": 1.0, "unitcost": 850.0, "enter_day": int(host["report_day"]) + 2, "role": "lnk002_link"})
    links = pd.concat([links, pd.DataFrame(planted)], ignore_index=True)
    links["polineid"] = np.arange(800001, 800001 + len(links))
    return links


def _plant_wo_side_defects(rng: np.random.Generator, n_def: int, lines: pd.DataFrame,
                           mnt: dict[str, pd.DataFrame], prod: dict[str, pd.DataFrame]) -> None:
    """WOs and OSP operations naming PO lines no ERP has (LNK-002)."""
    wos = mnt["wos"]
    for site in SITES:
        hosts = wos.index[(wos["role"] == "lnk002_wo") & (wos["site"] == site)]
        numbers = [str(990001 + i) if site == "NORTH" else f"PO-{9900001 + i:07d}" for i in range(len(hosts))]
        wos.loc[hosts, "gen_po"] = numbers
        wos.loc[hosts, "gen_po_line"] = 1
    ops = prod["ops"]
    for site in SITES:
        hosts = ops.index[(ops["role"] == "lnk002_op") & ops["is_osp"] & (ops["site"] == site)]
        numbers = [str(980001 + i) if site == "NORTH" else f"PO-{9800001 + i:07d}" for i in range(len(hosts))]
        ops.loc[hosts, "po_ref"] = numbers
        ops.loc[hosts, "po_line_ref"] = "1"


def _plant_link_disagreement(lines: pd.DataFrame) -> None:
    """OSP lines whose operation number was keyed as the routing's first (in-house) operation, while
    the OSP operation names the line (LNK-003)."""
    hosts = (lines["role"] == "lnk003") & (lines["origin"] == "osp")
    lines.loc[hosts, "op_ref"] = 10


def _plant_invoice_currency(invoices: pd.DataFrame) -> None:
    """Invoices the processor sent in Swiss francs: no CHF rate exists anywhere (CST-003)."""
    hosts = invoices.index[invoices["role"] == "cst003_invoice"]
    invoices.loc[hosts, "currency"] = UNCONVERTIBLE_CURRENCY
    invoices.loc[hosts, "amount"] = np.round(invoices.loc[hosts, "amount"] * 0.96, 2)


def _collect_defects(plant: Plant) -> None:
    """Every finding the rules must produce, with what it is about."""
    d = plant.defects
    lines = plant.po_lines
    for _, line in lines[lines["role"] == "lnk001_wo"].iterrows():
        d.append(_defect("LNK-001", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                         f"PO line names work order {line['wo_ref']}, which does not exist at {line['site']}"))
    for _, line in lines[lines["role"] == "lnk001_op"].iterrows():
        d.append(_defect("LNK-001", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                         f"PO line names operation {line['op_ref']} of {line['wo_ref']}, which has no such operation"))
    wos = plant.maint_wos
    for _, wo in wos[wos["role"] == "lnk002_wo"].iterrows():
        d.append(_defect("LNK-002", "work_order", "maximo", ("maximo_wo", wo["site"], wo["wonum"]),
                         f"GENERATEDFORPO/GENFORPOLINEID name {wo['gen_po']} line 1, which the ERP does not have"))
    links = plant.po_links
    for _, link in links[links["role"] == "lnk002_link"].iterrows():
        d.append(_defect("LNK-002", "wo_po_link", "maximo", ("maximo_poline", link["site"], link["ponum"], link["polinenum"]),
                         f"POLINE names {link['ponum']} line {link['polinenum']}; the PO exists but has no such line"))
    ops = plant.prod_ops
    for _, op in ops[(ops["role"] == "lnk002_op") & ops["is_osp"]].iterrows():
        ref = ("mes_op", op["wo_number"], op["seq"])
        d.append(_defect("LNK-002", "wo_operation", "mes", ref,
                         f"OSP op names {op['po_ref']} line {op['po_line_ref']}, which the ERP does not have"))
        d.append(_defect("OSP-001", "wo_operation", "mes", ref,
                         "secondary: the only PO line the released OSP op names does not exist"))
    for _, line in lines[(lines["role"] == "lnk003") & (lines["origin"] == "osp")].iterrows():
        d.append(_defect("LNK-003", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                         f"PO line names op 10 of {line['wo_ref']}; the OSP op names this line back from the MES"))
    for _, line in lines[(lines["role"] == "lnk004") & (lines["origin"] == "osp")].iterrows():
        d.append(_defect("LNK-004", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                         f"OSP line for {line['wo_ref']} op {line['op_ref']} still open; the work order was cancelled"))
    for _, wo in plant.prod_wos[plant.prod_wos["role"] == "lnk005"].iterrows():
        d.append(_defect("LNK-005", "work_order", "mes", ("mes_wo", wo["wo_number"]),
                         "Closed while its OSP line is received but never invoiced"))
    for _, op in ops[(ops["role"] == "lnk007") & ops["is_osp"]].iterrows():
        d.append(_defect("LNK-007", "wo_operation", "mes", ("mes_op", op["wo_number"], op["seq"]),
                         f"{op['segment']} op bought on two PO lines, each on a PO of its own"))
    for _, op in ops[(ops["role"] == "osp001") & ops["is_osp"]].iterrows():
        d.append(_defect("OSP-001", "wo_operation", "mes", ("mes_op", op["wo_number"], op["seq"]),
                         f"released {op['segment']} op with no PO line from either side"))
    for _, line in lines[(lines["role"] == "osp005") & (lines["origin"] == "osp")].iterrows():
        d.append(_defect("OSP-005", "po_line", line["erp"], ("po_line", line["erp"], line["po_number"], line["line_no"]),
                         f"OSP line for {line['wo_ref']} op {line['op_ref']} needed by AS_OF-10 days, nothing received"))
    for _, inv in plant.invoices[plant.invoices["currency"] == UNCONVERTIBLE_CURRENCY].iterrows():
        d.append(_defect("CST-003", "invoice_line", "soap", ("invoice", inv["erp"], inv["invoice_no"]),
                         f"invoice for {inv['po_label']} line {inv['line_no']} in CHF; no CHF rate exists"))
    mat = plant.material_use
    for _, row in mat[mat["currency"] == UNCONVERTIBLE_CURRENCY].iterrows():
        d.append(_defect("CST-003", "material_issue", "maximo", ("maximo_matuse", row["matusetransid"]),
                         f"material issued to WO {row['refwo']} at a CHF unit cost; no CHF rate exists"))
    receiving.collect_defects(plant, _defect)
    pwos = plant.prod_wos
    for _, wo in pwos[pwos["role"] == "trc001"].iterrows():
        d.append(_defect("TRC-001", "work_order", "mes", ("mes_wo", wo["wo_number"]),
                         "Completed with the final inspection required and not signed off"))
    tasks = plant.maint_tasks
    for _, wo in wos[wos["role"] == "quarantine_status"].iterrows():
        plant.quarantine.append({"ref": ("maximo_wo", wo["site"], wo["wonum"]), "source": "maximo",
                                 "stream": "work_orders", "field": "status", "reason_contains": "code not in the map",
                                 "note": f"STATUS {UNKNOWN_MAXIMO_STATUS} is not a status the CMMS mapping knows"})
        for _, task in tasks[(tasks["site"] == wo["site"]) & (tasks["parent"] == wo["wonum"])].iterrows():
            d.append(_defect("DQ-002", "wo_operation", "maximo", ("maximo_task", wo["site"], wo["wonum"], task["taskid"]),
                             "secondary: the task loads, but its work order is quarantined (unknown STATUS), so the "
                             "warehouse suite finds an operation without its work order"))
    for _, op in ops[ops["segment"] == UNKNOWN_SEGMENT].iterrows():
        plant.quarantine.append({"ref": ("mes_op", op["wo_number"], op["seq"]), "source": "mes",
                                 "stream": "operations", "field": "process", "reason_contains": "code not in the map",
                                 "note": f"ProcessSegmentID {UNKNOWN_SEGMENT} is not a process segment the MES mapping knows"})
    outside_processing.collect_defects(plant, _defect)
    suggestions.collect_defects(plant, _defect)
    collect_cost_defects(plant, _defect)


def _defect(rule_id: str, subject: str, erp_or_source: str, ref: tuple, note: str) -> dict[str, Any]:
    source = {"jde": "jde", "soap": "erp_soap"}.get(erp_or_source, erp_or_source)
    return {"rule_id": rule_id, "subject_entity": subject, "source_system": source, "ref": ref, "note": note}


# ---------------------------------------------------------------------------- writing helpers

def julian(days: np.ndarray | pd.Series) -> np.ndarray:
    """Day offsets from AS_OF as JD Edwards Julian dates (CYYDDD: centuries after 1900, year, day)."""
    stamps = pd.DatetimeIndex(to_dates(days))
    return ((stamps.year - 1900) * 1000 + stamps.day_of_year).to_numpy(dtype="int64")


def hhmmss(seconds: np.ndarray | pd.Series) -> np.ndarray:
    """Seconds after midnight as the HHMMSS integer JD Edwards keeps beside a Julian date."""
    s = np.asarray(seconds, dtype="int64")
    return (s // 3600) * 10000 + (s % 3600 // 60) * 100 + s % 60


def timestamps(days: np.ndarray | pd.Series, seconds: np.ndarray | pd.Series, sep: str = " ") -> np.ndarray:
    """Day offsets plus seconds as 'YYYY-MM-DD HH:MM:SS' text (``sep`` between date and time)."""
    moments = to_dates(days).astype("datetime64[s]") + np.asarray(seconds, dtype="int64").astype("timedelta64[s]")
    text = np.datetime_as_string(moments, unit="s")
    return np.char.replace(text.astype(str), "T", sep).astype(object)


def iso_dates(days: np.ndarray | pd.Series) -> np.ndarray:
    """Day offsets as 'YYYY-MM-DD' text."""
    return np.datetime_as_string(to_dates(days), unit="D").astype(object)


def write_sqlite_table(conn, name: str, columns: list[tuple[str, str]], frame: pd.DataFrame) -> int:
    """Create table ``name`` with the given (column, SQL type) list and bulk-insert ``frame``.

    Values go in through one ``executemany`` as plain Python values (numpy scalars are not
    bindable); NaN and None become NULL. Returns the number of rows written.
    """
    ddl = ", ".join(f'"{c}" {t}' for c, t in columns)
    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    conn.execute(f'CREATE TABLE "{name}" ({ddl})')
    if len(frame) == 0:
        return 0
    data = []
    for column, sql_type in columns:
        values = frame[column]
        if sql_type.startswith("INTEGER"):
            whole = pd.Series(values).astype("Int64")
            data.append(whole.astype(object).where(whole.notna(), None).tolist())
        elif sql_type.startswith("REAL"):
            data.append([None if v != v else v for v in pd.Series(values).astype("float64").tolist()])
        else:
            data.append([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values.tolist()])
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', zip(*data))
    return len(frame)


def char(values, width: int, right: bool = False) -> np.ndarray:
    """Fixed-width CHAR text the way JD Edwards stores it: blank-padded (right-justified if asked)."""
    text = pd.Series(np.asarray(values, dtype=object)).astype(str).str.slice(0, width)
    return (text.str.rjust(width) if right else text.str.ljust(width)).to_numpy(dtype=object)

"""Maximo work management and JD Edwards manufacturing tables, generated for the integration tests.

Column names and types come from the real-world catalogues next to the checkout
(``shared/realworld/maximo/maximo.sql`` and ``shared/realworld/jde-e1/jde_e1_po_wo_columns.csv``,
read by ``tests/erp_layouts.py``); the rows are generated here with each system's own quirks:

* Maximo (WORKORDER, WPSERVICE, MATUSETRANS, LABTRANS, SERVRECTRANS): work orders and their tasks
  share WORKORDER (ISTASK 'Y' rows are tasks, PARENT their work order, TASKID 10, 20, ... their
  sequence); a work order raised for a PO names it in GENERATEDFORPO / GENFORPOLINEID (a POLINEID,
  not the line number); material issues carry a negative QUANTITY and, when bought straight for the
  work order, PONUM / POLINENUM; outside labour and service receipts name their PO line too.
  CHANGEDATE and TRANSDATE repeat across rows (one escalation run, one receiving session), so the
  bookmarks need the id beside the date. The 4/5 schema of maximo.sql has no WPSERVICE (planned
  services came with Maximo 6): its layout is WPMATERIAL's columns plus Maximo 7's WPITEMID,
  LINETYPE and LINECOST.
* JD Edwards (F4801 work order headers, F3111 parts list, F3112 routing, F31122 time entries):
  CHAR padding, right-justified business units and work
  centres, Julian dates CYYDDD with 0 for "no date", integers with implied decimals (quantities 2,
  operation sequences 2, hours 2, rates 3, PO line numbers 3) and PO lines (F4311) naming their work
  order in PDRORN zero-filled to 8 characters, while F4801 keeps WADOCO as a number.

Every stream has a few planted bad rows, listed in ``MAXIMO_PLANTED`` and ``JDE_PLANTED`` with the
field and reason the shipped specs quarantine them for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tests.erp_layouts import (BASE_DAY, STAMP_SECONDS, Column, SourceTable, char, hhmmss, jde_catalogue, jde_tables,
                               julian, maximo_catalogue)

MAXIMO_CATALOGUE_TABLES = ("workorder", "wpmaterial", "matusetrans", "labtrans", "servrectrans")
#: Maximo 7 columns of WPSERVICE that the 4/5 DDL's WPMATERIAL lacks
WPSERVICE_EXTRA = (Column("WPITEMID", "bigint", nullable=False), Column("LINETYPE", "varchar", 15, nullable=False),
                   Column("LINECOST", "decimal", 10, 2))
SERVICE_ITEMS = np.array(["SVC-HEATTREAT", "SVC-PLATING", "SVC-NDT", "SVC-CALIB", "SVC-REPAIR"], dtype=object)
VENDORS = np.array(["WAERMETEC", "GALVA", "NDTLAB", "CALIBRA", "FIXIT"], dtype=object)
MAXIMO_SITES = np.array(["BEDFORD", "NASHUA"], dtype=object)


@dataclass(frozen=True)
class Planted:
    """Planted bad rows of a stream: how to find them in the source, and why the spec quarantines them."""

    where: str
    count: int
    field: str
    reason: str


MAXIMO_PLANTED = {
    # a status an interface wrote that the site's domain does not have
    "work_orders": Planted("STATUS = 'DRAFT'", 2, "status", "status from STATUS: code not in the map"),
    "material_issues": Planted("ITEMNUM IS NULL", 2, "item_number", "material_issue.item_number is required but empty"),
    "labour": Planted("REFWO IS NULL", 2, "wo_number", "labour_entry.wo_number is required but empty"),
    "service_receipts": Planted("PONUM IS NULL", 2, "po_number", "receipt.po_number is required but empty"),
}

JDE_PLANTED = {
    "work_orders": Planted("WATRDJ = 126400", 2, "created_date",
                           "created_date from WATRDJ: not a JD Edwards Julian date (CYYDDD)"),
    "operations": Planted("WLOPST = '42'", 2, "status", "status from WLOPST: code not in the map"),
    "material_issues": Planted("WMTRDJ = 126000", 2, "issue_date",
                               "issue_date from WMTRDJ: not a JD Edwards Julian date (CYYDDD)"),
    # 0 is JD Edwards' "no date": the entry has no date at all
    "labour": Planted("WTDGL = 0", 2, "entry_date", "labour_entry.entry_date is required but empty"),
}


def _stamps(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """Timestamps on ``days`` at one of a few batch-job times, so that many rows share each."""
    return days.astype("datetime64[s]") + STAMP_SECONDS[rng.integers(0, len(STAMP_SECONDS), size=len(days))]


def _days(rng: np.random.Generator, start, low: int, high: int, size: int) -> np.ndarray:
    return start + rng.integers(low, high, size=size).astype("timedelta64[D]")


def _text_ids(first: int, count: int) -> np.ndarray:
    return (first + np.arange(count)).astype(str).astype(object)


def _optional_int(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers, missing (NULL) where ``present`` is false."""
    return pd.Series(np.where(present, values, 0), dtype="Int64").where(present).array


def _columns(catalogue: dict[str, Column], table: str, names) -> list[Column]:
    """The catalogue's columns called ``names``; a name the real layout lacks is an error."""
    missing = [n for n in names if n not in catalogue]
    if missing:
        raise KeyError(f"{table}: columns {missing} are not in the real-world catalogue")
    return [catalogue[n] for n in names]


# ------------------------------------------------------------------ Maximo work management


def maximo_work_tables(realworld: Path, n_wos: int = 3000, seed: int = 23) -> dict[str, SourceTable]:
    """WORKORDER (``n_wos`` work orders plus their tasks), WPSERVICE, MATUSETRANS, LABTRANS and
    SERVRECTRANS, with the planted bad rows of ``MAXIMO_PLANTED``."""
    catalogue = maximo_catalogue(realworld, MAXIMO_CATALOGUE_TABLES)
    rng = np.random.default_rng(seed)

    # ---- work orders
    wonum = _text_ids(1001, n_wos)
    site = MAXIMO_SITES[(rng.random(n_wos) < 0.4).astype(int)]
    status = rng.choice(np.array(["WAPPR", "APPR", "INPRG", "COMP", "CLOSE", "CAN"]), size=n_wos,
                        p=[0.1, 0.2, 0.25, 0.15, 0.25, 0.05]).astype(object)
    report_time = _stamps(rng, _days(rng, BASE_DAY, 0, 150, n_wos))
    changed = report_time + (rng.integers(0, 20, size=n_wos) * 86_400).astype("timedelta64[s]")
    started = np.isin(status, ["INPRG", "COMP", "CLOSE"])
    finished = np.isin(status, ["COMP", "CLOSE"])
    act_start = np.where(started, report_time + np.timedelta64(86_400, "s"), np.datetime64("NaT"))
    act_finish = np.where(finished, act_start + (rng.integers(1, 10, n_wos) * 86_400).astype("timedelta64[s]"),
                          np.datetime64("NaT"))
    bad = rng.choice(n_wos, size=MAXIMO_PLANTED["work_orders"].count, replace=False)
    status[bad] = "DRAFT"
    # a work order raised for a PO line names the PO and the line's POLINEID
    for_po = rng.random(n_wos) < 0.12
    generated_for_po = np.where(for_po, pd.Series(rng.integers(10_001, 12_000, n_wos)).astype(str), None)
    gen_for_line = _optional_int(rng.integers(1, 20_000, n_wos), for_po)

    # ---- tasks: 1 to 4 for 40% of the work orders, sequenced 10, 20, ...
    task_counts = np.where(rng.random(n_wos) < 0.4, rng.integers(1, 5, n_wos), 0)
    parent = np.repeat(np.arange(n_wos), task_counts)
    n_tasks = len(parent)
    task_seq = (np.arange(n_tasks) - np.repeat(np.cumsum(task_counts) - task_counts, task_counts) + 1) * 10
    parent_status = status[parent]
    task_status = np.where(parent_status == "DRAFT", "WAPPR", parent_status).astype(object)
    # tasks of a work order in progress: the early ones are complete
    task_status[(parent_status == "INPRG") & (task_seq == 10)] = "COMP"

    def wo_rows(numbers, parents, task_ids, is_task, statuses, sites, reported, changes, starts, finishes,
                descriptions, est_lab, est_mat, est_serv, gen_po, gen_line) -> pd.DataFrame:
        n = len(numbers)
        zeros = np.zeros(n)
        return pd.DataFrame({
            "ROWSTAMP": _text_ids(2_000_000, n), "WONUM": numbers, "PARENT": parents, "STATUS": statuses,
            "STATUSDATE": changes, "WORKTYPE": np.where(is_task, None, rng.choice(np.array(["CM", "PM", "EM"]), n)),
            "DESCRIPTION": descriptions,
            "EQNUM": pd.Series(rng.integers(11_000, 11_400, n)).astype(str).to_numpy(dtype=object),
            "CHANGEBY": "MAXADMIN", "CHANGEDATE": changes, "ESTDUR": np.round(rng.random(n) * 8, 2),
            "ESTLABHRS": np.round(rng.random(n) * 16, 2), "ESTMATCOST": est_mat, "ESTLABCOST": est_lab,
            "ESTTOOLCOST": zeros, "ACTLABHRS": zeros, "ACTMATCOST": zeros, "ACTLABCOST": zeros, "ACTTOOLCOST": zeros,
            "HASCHILDREN": "N", "OUTLABCOST": zeros, "OUTMATCOST": zeros, "OUTTOOLCOST": zeros,
            "HISTORYFLAG": np.where(np.isin(statuses, ["CLOSE", "CAN"]), "Y", "N"),
            "WOPRIORITY": rng.integers(1, 6, n), "REPORTEDBY": "MAXADMIN", "REPORTDATE": reported,
            "INTERRUPTABLE": "N", "DOWNTIME": "N", "ACTSTART": starts, "ACTFINISH": finishes, "CHARGESTORE": "N",
            "GLACCOUNT": np.where(sites == "BEDFORD", "6100-200-300", "6100-210-300"),
            "ESTSERVCOST": est_serv, "ACTSERVCOST": zeros, "DISABLED": "N", "ESTATAPPRLABHRS": zeros,
            "ESTATAPPRLABCOST": zeros, "ESTATAPPRMATCOST": zeros, "ESTATAPPRTOOLCOST": zeros,
            "ESTATAPPRSERVCOST": zeros, "HASFOLLOWUPWORK": "N", "WFACTIVE": "N",
            "GENERATEDFORPO": gen_po, "GENFORPOLINEID": gen_line, "ORGID": "EAGLENA", "SITEID": sites,
            "TASKID": task_ids, "INSPECTOR": np.where(is_task & (rng.random(n) < 0.3), "QAINSP", None),
            "CHANGECHILDSTATUS": "N", "ISTASK": np.where(is_task, "Y", "N"),
        })

    def money(n: int, high: int) -> np.ndarray:
        return np.round(rng.integers(0, high, n) / 100, 2)

    work_orders = wo_rows(
        wonum, None, pd.array([pd.NA] * n_wos, dtype="Int64"), np.zeros(n_wos, bool), status, site, report_time,
        changed, act_start, act_finish, pd.Series(wonum).radd("Repair pump unit ").to_numpy(dtype=object),
        money(n_wos, 500_000), money(n_wos, 300_000), money(n_wos, 200_000), generated_for_po, gen_for_line)
    work_orders["HASCHILDREN"] = np.where(task_counts > 0, "Y", "N")
    task_wonum = _text_ids(1001 + n_wos, n_tasks)
    tasks = wo_rows(
        task_wonum, wonum[parent], pd.array(task_seq, dtype="Int64"), np.ones(n_tasks, bool), task_status,
        site[parent], report_time[parent], changed[parent], act_start[parent],
        np.where(task_status == "COMP", act_start[parent] + np.timedelta64(3600, "s"), act_finish[parent]),
        pd.Series(task_seq).astype(str).radd("Task ").to_numpy(dtype=object),
        np.zeros(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks), None, pd.array([pd.NA] * n_tasks, dtype="Int64"))
    workorder = pd.concat([work_orders, tasks], ignore_index=True)

    # ---- planned outside services: one on a quarter of the tasks
    serviced = np.flatnonzero(rng.random(n_tasks) < 0.25)
    n_services = len(serviced)
    service_item = SERVICE_ITEMS[rng.integers(0, len(SERVICE_ITEMS), n_services)]
    service_qty = rng.integers(1, 20, n_services).astype(float)
    service_cost = money(n_services, 200_000)
    wpservice = pd.DataFrame({
        "ROWSTAMP": _text_ids(3_000_000, n_services), "WONUM": task_wonum[serviced], "ITEMNUM": service_item,
        "ITEMQTY": service_qty, "UNITCOST": service_cost, "DIRECTREQ": "Y",
        "VENDOR": VENDORS[rng.integers(0, len(VENDORS), n_services)],
        "REQUIREDATE": (report_time[parent[serviced]] + np.timedelta64(14 * 86_400, "s")),
        "UNITCOSTHASCHANGED": "N", "ORGID": "EAGLENA", "SITEID": site[parent[serviced]],
        "DESCRIPTION": pd.Series(service_item).str.slice(4).radd("Outside service ").to_numpy(dtype=object),
        "ORDERUNIT": "EACH", "MKTPLCITEM": "N", "WPITEMID": 1 + np.arange(n_services), "LINETYPE": "SERVICE",
        "LINECOST": np.round(service_qty * service_cost, 2),
    })

    # ---- actuals against work orders that have started
    active = np.flatnonzero(started)

    def session_times(n: int, every_hours: int) -> np.ndarray:
        """Transaction times of ``n`` rows booked in sessions: about 20 rows share each second."""
        sessions = rng.integers(0, max(1, n // 20), size=n)
        return BASE_DAY.astype("datetime64[s]") + (np.sort(sessions) * every_hours * 3600).astype("timedelta64[s]")

    n_issues = 2 * len(active)
    issue_wo = rng.choice(active, size=n_issues)
    is_return = rng.random(n_issues) < 0.08
    quantity = rng.integers(1, 40, n_issues).astype(float)
    issue_cost = np.round(rng.integers(100, 90_000, n_issues) / 100, 2)
    direct = rng.random(n_issues) < 0.1
    issue_date = session_times(n_issues, 2)
    item = pd.Series(rng.integers(1000, 9999, n_issues)).astype(str).radd("ITM-").to_numpy(dtype=object)
    item[rng.choice(n_issues, size=MAXIMO_PLANTED["material_issues"].count, replace=False)] = None
    signed = np.where(is_return, quantity, -quantity)
    matusetrans = pd.DataFrame({
        "ROWSTAMP": _text_ids(4_000_000, n_issues), "ITEMNUM": item, "STORELOC": np.where(direct, None, "CENTRAL"),
        "TRANSDATE": issue_date, "ACTUALDATE": issue_date, "QUANTITY": signed, "CURBAL": 100.0, "PHYSCNT": 100.0,
        "UNITCOST": issue_cost, "ACTUALCOST": issue_cost,
        "PONUM": np.where(direct, pd.Series(rng.integers(10_001, 12_000, n_issues)).astype(str), None),
        "CONVERSION": 1.0, "ENTERBY": "STORES", "OUTSIDE": "N",
        "POLINENUM": _optional_int(rng.integers(1, 9, n_issues), direct),
        "ROLLUP": "N", "LOTNUM": np.where(rng.random(n_issues) < 0.3,
                                          pd.Series(rng.integers(0, 99_999, n_issues)).astype(str).str.zfill(7)
                                          .radd("L"), None),
        "ISSUETYPE": np.where(is_return, "RETURN", "ISSUE"), "GLDEBITACCT": "6100-200-300",
        "LINECOST": np.round(signed * issue_cost, 2), "CURRENCYCODE": "USD", "SPAREPARTADDED": "N",
        "MATUSETRANSID": 1 + np.arange(n_issues), "ORGID": "EAGLENA", "SITEID": site[issue_wo],
        "REFWO": wonum[issue_wo], "ENTEREDASTASK": "N",
    })

    n_labour = 2 * len(active)
    labour_wo = rng.choice(active, size=n_labour)
    outside = rng.random(n_labour) < 0.1
    hours = np.round(rng.integers(25, 1000, n_labour) / 100, 2)
    rate = np.where(outside, 95.0, np.round(rng.integers(3000, 7000, n_labour) / 100, 2))
    labour_date = session_times(n_labour, 3)
    refwo = wonum[labour_wo].copy()
    refwo[rng.choice(n_labour, size=MAXIMO_PLANTED["labour"].count, replace=False)] = None
    labtrans = pd.DataFrame({
        "ROWSTAMP": _text_ids(5_000_000, n_labour), "TRANSDATE": labour_date,
        "LABORCODE": np.where(outside, "CONTRACT", rng.choice(np.array(["WILSON", "MÜLLER", "LEFÈVRE", "SMITH"]),
                                                               n_labour)),
        "CRAFT": rng.choice(np.array(["MECH", "ELEC", "INST"]), n_labour), "PAYRATE": rate, "OTSCALE": 1.5,
        "REGULARHRS": hours, "OTHRS": 0.0, "ENTERBY": "MAXADMIN", "ENTERDATE": labour_date,
        "STARTDATE": labour_date.astype("datetime64[D]").astype("datetime64[s]"), "TRANSTYPE": "WORK",
        "OUTSIDE": np.where(outside, "Y", "N"), "ROLLUP": "N", "LINECOST": np.round(hours * rate, 2),
        "PONUM": np.where(outside, pd.Series(rng.integers(10_001, 12_000, n_labour)).astype(str), None),
        "POLINENUM": _optional_int(np.ones(n_labour, dtype="int64"), outside),
        "GENAPPRSERVRECEIPT": "N", "LABTRANSID": 1 + np.arange(n_labour), "ORGID": "EAGLENA",
        "SITEID": site[labour_wo], "REFWO": refwo, "ENTEREDASTASK": "N",
    })

    # service receipts against the PO lines bought for work orders
    receipt_wo = np.flatnonzero(for_po & started)
    n_receipts = len(receipt_wo)
    receipt_qty = rng.integers(1, 10, n_receipts).astype(float)
    receipt_cost = money(n_receipts, 300_000)
    receipt_date = session_times(n_receipts, 4)
    receipt_po = generated_for_po[receipt_wo].copy()
    receipt_po[rng.choice(n_receipts, size=MAXIMO_PLANTED["service_receipts"].count, replace=False)] = None
    servrectrans = pd.DataFrame({
        "ROWSTAMP": _text_ids(6_000_000, n_receipts), "PONUM": receipt_po, "QUANTITY": receipt_qty,
        "UNITCOST": receipt_cost, "LINECOST": np.round(receipt_qty * receipt_cost, 2), "TRANSDATE": receipt_date,
        "ENTERDATE": receipt_date, "ENTERBY": "RECEIVER", "DESCRIPTION": "Outside repair service",
        "CURRENCYLINECOST": np.round(receipt_qty * receipt_cost, 2), "CURRENCYCODE": "USD",
        "POLINENUM": rng.integers(1, 9, n_receipts), "APPROVED": "Y", "ROLLUP": "N",
        "LOADEDCOST": np.round(receipt_qty * receipt_cost, 2), "PRORATED": "N",
        "SERVRECTRANSID": 1 + np.arange(n_receipts), "ORGID": "EAGLENA", "SITEID": site[receipt_wo],
        "ISSUETYPE": "RECEIPT", "COSTINFO": "N", "REFWO": wonum[receipt_wo], "ENTEREDASTASK": "N",
    })

    def table(name: str, frame: pd.DataFrame, indexes, extra: tuple[Column, ...] = ()) -> SourceTable:
        source = "WPMATERIAL" if name == "WPSERVICE" else name
        names = [c for c in frame.columns if c not in {e.name for e in extra}]
        return SourceTable(name, _columns(catalogue[source], source, names) + list(extra), frame[[*names, *(
            e.name for e in extra)]], indexes)

    return {
        "WORKORDER": table("WORKORDER", workorder, [("SITEID", "WONUM"), ("CHANGEDATE", "WONUM"),
                                                     ("PARENT", "TASKID")]),
        "WPSERVICE": table("WPSERVICE", wpservice, [("SITEID", "WONUM")], WPSERVICE_EXTRA),
        "MATUSETRANS": table("MATUSETRANS", matusetrans, [("SITEID", "MATUSETRANSID"),
                                                         ("TRANSDATE", "MATUSETRANSID")]),
        "LABTRANS": table("LABTRANS", labtrans, [("SITEID", "LABTRANSID"), ("TRANSDATE", "LABTRANSID")]),
        "SERVRECTRANS": table("SERVRECTRANS", servrectrans, [("SITEID", "SERVRECTRANSID"),
                                                            ("TRANSDATE", "SERVRECTRANSID")]),
    }


# ------------------------------------------------------------------ JD Edwards manufacturing

#: work order status (UDC 00/SS as many sites set it up) and operation status (31/OS)
JDE_WO_STATUSES = np.array(["10", "30", "40", "45", "50", "90", "95", "99"], dtype=object)
JDE_OP_STATUSES = np.array(["10", "20", "30", "90"], dtype=object)
#: operation type codes (WLOPSC) and the work centre each runs in; the last three are outside operations
JDE_OP_TYPES = np.array(["MC", "AS", "IN", "HT", "PL", "ND"], dtype=object)
JDE_WORK_CENTRES = np.array(["MACH1", "ASSY1", "QC1", "OSP-HT", "OSP-PL", "OSP-NDT"], dtype=object)
JDE_FIRST_WO = 12_001


def jde_manufacturing_tables(realworld: Path, n_wos: int = 200, seed: int = 31) -> dict[str, SourceTable]:
    """F4801 (``n_wos`` work orders), F3111, F3112, F31122, and the F4311 PO lines of the outside
    operations, naming their work order (PDRORN zero-filled to 8) and operation; planted rows as
    ``JDE_PLANTED``."""
    catalogue = jde_catalogue(realworld)
    rng = np.random.default_rng(seed)

    doco = JDE_FIRST_WO + np.arange(n_wos)
    branch = np.where(rng.random(n_wos) < 0.7, "P100", "P110").astype(object)
    status = JDE_WO_STATUSES[rng.integers(0, len(JDE_WO_STATUSES), n_wos)]
    order_day = _days(rng, BASE_DAY, 0, 90, n_wos)
    created = julian(order_day)
    created[rng.choice(n_wos, size=JDE_PLANTED["work_orders"].count, replace=False)] = 126_400
    # 0: not scheduled yet
    start = np.where(rng.random(n_wos) < 0.2, 0, julian(order_day + np.timedelta64(3, "D")))
    item = 70_000 + rng.integers(1, 400, n_wos)
    f4801 = pd.DataFrame({
        "WADOCO": doco, "WADCTO": "WO", "WASFXO": "000", "WAMCU": char(branch, 12, right=True),
        "WAMMCU": char(branch, 12, right=True), "WASRST": char(status, 2), "WATYPS": char(["M"] * n_wos, 1),
        "WAPRTS": char(rng.integers(1, 6, n_wos).astype(str), 1),
        "WADL01": char(pd.Series(item).astype(str).radd("Build shaft assembly "), 30),
        "WATRDJ": created, "WASTRT": start, "WADRQJ": julian(order_day + np.timedelta64(30, "D")),
        "WASTRX": np.where(np.isin(status, ["90", "99"]), julian(order_day + np.timedelta64(20, "D")), 0),
        "WAITM": item, "WALITM": char(pd.Series(item).astype(str).radd("FG-"), 25),
        "WAVR01": char(pd.Series(rng.integers(100, 999, n_wos)).astype(str).radd("SO-"), 25),
        "WAUORG": rng.integers(1, 200, n_wos) * 100, "WAUOM": char(["EA"] * n_wos, 2),
        "WALOTN": char(pd.Series(doco).astype(str).radd("LOT"), 30),
        "WALBAM": rng.integers(0, 5_000_000, n_wos), "WAMTAM": rng.integers(0, 8_000_000, n_wos),
        "WAUSER": char(["PLANNER"] * n_wos, 10), "WAPID": char(["P48013"] * n_wos, 10),
        "WAUPMJ": julian(order_day + np.timedelta64(1, "D")),
        "WATDAY": hhmmss(STAMP_SECONDS[rng.integers(0, len(STAMP_SECONDS), n_wos)]),
    })

    # ---- routing: 3 to 5 operations, 10.00, 20.00, ... (WLOPSQ 1000, 2000, ... with 2 implied decimals)
    op_counts = rng.integers(3, 6, n_wos)
    op_wo = np.repeat(np.arange(n_wos), op_counts)
    n_ops = len(op_wo)
    op_no = np.arange(n_ops) - np.repeat(np.cumsum(op_counts) - op_counts, op_counts) + 1
    op_type = rng.integers(0, len(JDE_OP_TYPES), n_ops)
    is_osp = op_type >= 3
    op_status = JDE_OP_STATUSES[rng.integers(0, len(JDE_OP_STATUSES), n_ops)]
    op_status[rng.choice(n_ops, size=JDE_PLANTED["operations"].count, replace=False)] = "42"
    # an outside operation is bought on a PO (F4311 below), which the routing names in WLRORN / WLRLLN
    osp_rows = np.flatnonzero(is_osp)
    osp_po = 4_800_001 + np.arange(len(osp_rows))
    related_po = np.zeros(n_ops, dtype="int64")
    related_po[osp_rows] = osp_po
    f3112 = pd.DataFrame({
        "WLDOCO": doco[op_wo], "WLDCTO": "WO", "WLSFXO": "000", "WLMMCU": char(branch[op_wo], 12, right=True),
        "WLMCU": char(JDE_WORK_CENTRES[op_type], 12, right=True), "WLDSC1": char(
            pd.Series(JDE_OP_TYPES[op_type]).radd("Operation "), 30),
        "WLOPSQ": op_no * 1000, "WLOPSC": char(JDE_OP_TYPES[op_type], 2), "WLOPST": char(op_status, 2),
        "WLVEND": np.where(is_osp, rng.integers(4001, 4050, n_ops), 0),
        "WLRORN": char(np.where(is_osp, pd.Series(related_po).astype(str).str.zfill(8), ""), 8),
        "WLRCTO": char(np.where(is_osp, "OP", ""), 2), "WLRLLN": np.where(is_osp, 1000, 0),
        "WLUORG": f4801["WAUORG"].to_numpy()[op_wo], "WLSTRT": start[op_wo] + np.where(start[op_wo] > 0, op_no, 0),
        "WLDRQJ": julian(order_day[op_wo] + (op_no * 4).astype("timedelta64[D]")),
        "WLUPMJ": f4801["WAUPMJ"].to_numpy()[op_wo], "WLTDAY": f4801["WATDAY"].to_numpy()[op_wo],
    })

    # ---- parts list: 2 to 4 components, issued at operation 10
    part_counts = rng.integers(2, 5, n_wos)
    part_wo = np.repeat(np.arange(n_wos), part_counts)
    n_parts = len(part_wo)
    component = 60_000 + rng.integers(1, 900, n_parts)
    planned = rng.integers(1, 50, n_parts) * 100
    issued_day = julian(order_day[part_wo] + np.timedelta64(4, "D"))
    issued_day[rng.choice(n_parts, size=JDE_PLANTED["material_issues"].count, replace=False)] = 126_000
    bought = rng.random(n_parts) < 0.1
    f3111 = pd.DataFrame({
        "WMDOCO": doco[part_wo], "WMDCTO": "WO", "WMSFXO": "000", "WMCPIT": component,
        "WMCPIL": char(pd.Series(component).astype(str).radd("RM-"), 25), "WMOPSQ": 1000,
        "WMMCU": char(branch[part_wo], 12, right=True), "WMUORG": planned,
        "WMTRQT": np.where(rng.random(n_parts) < 0.7, planned, 0), "WMUM": char(["EA"] * n_parts, 2),
        "WMTRDJ": issued_day, "WMLOTN": char(np.where(rng.random(n_parts) < 0.4,
                                                      pd.Series(rng.integers(1, 99_999, n_parts)).astype(str)
                                                      .radd("RL"), ""), 30),
        "WMRORN": char(np.where(bought, pd.Series(rng.integers(4_700_001, 4_700_200, n_parts)).astype(str)
                                .str.zfill(8), ""), 8),
        "WMRCTO": char(np.where(bought, "OP", ""), 2),
        "WMDSC1": char(pd.Series(component).astype(str).radd("Component "), 30),
        "WMUKID": 1 + np.arange(n_parts), "WMUPMJ": julian(order_day[part_wo] + np.timedelta64(4, "D")),
        "WMTDAY": 120000,
    })

    # ---- time entries: 0 to 2 per operation of started work orders
    entry_counts = np.where(np.isin(status[op_wo], ["50", "90", "99"]), rng.integers(0, 3, n_ops), 0)
    entry_op = np.repeat(np.arange(n_ops), entry_counts)
    n_entries = len(entry_op)
    entry_date = julian(order_day[op_wo[entry_op]] + np.timedelta64(5, "D"))
    entry_date[rng.choice(n_entries, size=JDE_PLANTED["labour"].count, replace=False)] = 0
    f31122 = pd.DataFrame({
        "WTDOCO": doco[op_wo[entry_op]], "WTDCTO": "WO", "WTAN8": rng.integers(7001, 7050, n_entries),
        "WTMMCU": char(branch[op_wo[entry_op]], 12, right=True), "WTMCU": f3112["WLMCU"].to_numpy()[entry_op],
        "WTOPSQ": f3112["WLOPSQ"].to_numpy()[entry_op],
        "WTTYR": char(rng.choice(np.array(["1", "2", "3"]), n_entries), 1),
        "WTHRW": rng.integers(25, 800, n_entries), "WTPRTR": rng.integers(30_000, 75_000, n_entries),
        "WTDGL": entry_date, "WTUKID": 1 + np.arange(n_entries),
        "WTUPMJ": julian(order_day[op_wo[entry_op]] + np.timedelta64(5, "D")), "WTTDAY": 170000,
    })

    # ---- purchasing: each outside operation is bought on a PO line (F4311) naming the work order in
    # PDRORN, zero-filled to 8 characters, and the operation in PDRLLN; the supplier is the routing's
    lines = jde_tables(realworld, n_lines=len(osp_rows), seed=seed)["F4311"].rows.iloc[: len(osp_rows)]
    f4311 = lines.assign(
        PDDOCO=osp_po, PDDCTO="OP", PDLNID=1000, PDAN8=f3112["WLVEND"].to_numpy()[osp_rows],
        PDRORN=char(pd.Series(doco[op_wo[osp_rows]]).astype(str).str.zfill(8), 8),
        PDRCTO=char(["WO"] * len(osp_rows), 2),
        PDRLLN=op_no[osp_rows] * 1000, PDLNTY=char(["OP"] * len(osp_rows), 2),
        # the purchasing table's own planted need-by dates are not this layout's concern
        PDPDDJ=julian(order_day[op_wo[osp_rows]] + np.timedelta64(10, "D")),
    ).reset_index(drop=True)

    def table(name: str, frame: pd.DataFrame, indexes) -> SourceTable:
        return SourceTable(name, _columns(catalogue[name], name, list(frame.columns)), frame, indexes)

    return {
        "F4801": table("F4801", f4801, [("WADOCO", "WADCTO"), ("WAUPMJ", "WATDAY")]),
        "F3112": table("F3112", f3112, [("WLDOCO", "WLDCTO", "WLOPSQ"), ("WLUPMJ", "WLTDAY")]),
        "F3111": table("F3111", f3111, [("WMUKID",), ("WMUPMJ", "WMTDAY")]),
        "F31122": table("F31122", f31122, [("WTUKID",), ("WTUPMJ", "WTTDAY")]),
        "F4311": table("F4311", f4311, [("PDDOCO", "PDDCTO", "PDKCOO", "PDSFXO", "PDLNID")]),
    }

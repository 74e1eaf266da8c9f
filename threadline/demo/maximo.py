"""The CMMS of both sites as a Maximo database (SQLite file ``cmms_maximo.sqlite``).

Tables and columns follow Maximo's own (upper case): WORKORDER holds work orders (ISTASK 0) and
their tasks (ISTASK 1, numbered from the same WONUM sequence, PARENT naming the work order, TASKID
10, 20, ...); WPSERVICE the planned outside services of a task; MATUSETRANS material issues
(QUANTITY negative for an issue); LABTRANS labour; POLINE Maximo's interfaced copy of the ERP PO
lines raised for its work orders; EQUIPMENT the asset hierarchy. Sites are 'NTH' (NORTH) and 'STH'
(SOUTH). Dates are 'YYYY-MM-DD HH:MM:SS' text; CHANGEDATE, TRANSDATE and ENTERDATE are the
bookmarks. WORKORDER.GENERATEDFORPO / GENFORPOLINEID name the ERP PO line bought for the work order,
written the way the site's ERP writes PO numbers ("4711" at NTH, "PO-0004711" at STH).

Source keys, as the ``demo_maximo`` specs build them: work order ``NTH|10023``, task
``NTH|10023|10`` (parent and TASKID), material issue ``700123``, labour ``500042``, PO line link
``NTH|4711|1``, equipment ``NTH|N-PMP-0012``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from threadline.demo.plant import Plant, timestamps, write_sqlite_table

FILE_NAME = "cmms_maximo.sqlite"
SITE_CODE = {"NORTH": "NTH", "SOUTH": "STH"}
ORG = "PLANTCO"

STREAMS = {
    "work_orders": {
        "mapping": "demo_maximo/WORKORDER.yaml", "query": "SELECT * FROM WORKORDER WHERE ISTASK = 0",
        "key": ["SITEID", "WONUM"], "bookmark": ["CHANGEDATE"],
    },
    "tasks": {
        "mapping": "demo_maximo/TASKS.yaml",
        # a task with a planned outside service is an outside-processing operation
        "query": ("SELECT t.WONUM, t.PARENT, t.TASKID, t.SITEID, t.STATUS, t.DESCRIPTION, t.SCHEDSTART, "
                  "t.ACTSTART, t.ACTFINISH, t.CHANGEDATE, s.VENDOR, s.ITEMNUM AS SERVICEITEM, "
                  "s.ITEMQTY AS SERVICEQTY, CASE WHEN s.WONUM IS NULL THEN 'N' ELSE 'Y' END AS OUTSIDE "
                  "FROM WORKORDER t LEFT JOIN WPSERVICE s ON s.WONUM = t.PARENT AND s.SITEID = t.SITEID "
                  "AND s.TASKID = t.TASKID WHERE t.ISTASK = 1"),
        "key": ["SITEID", "WONUM"], "bookmark": ["CHANGEDATE"],
    },
    "material_issues": {
        "mapping": "demo_maximo/MATUSETRANS.yaml", "table": "MATUSETRANS",
        "key": ["MATUSETRANSID"], "bookmark": ["TRANSDATE"],
    },
    "labour": {
        "mapping": "demo_maximo/LABTRANS.yaml", "table": "LABTRANS", "key": ["LABTRANSID"], "bookmark": ["ENTERDATE"],
    },
    "po_links": {
        "mapping": "demo_maximo/POLINE.yaml", "table": "POLINE",
        "key": ["SITEID", "PONUM", "POLINENUM"], "bookmark": ["ENTERDATE"],
    },
    "assets": {
        "mapping": "demo_maximo/EQUIPMENT.yaml", "table": "EQUIPMENT", "key": ["SITEID", "EQNUM"],
        "bookmark": ["CHANGEDATE"],
    },
}


def source_key(ref: tuple) -> str:
    """The source key of a planted record (see ``Plant.defects``) in this source."""
    kind = ref[0]
    if kind == "maximo_wo":
        return f"{SITE_CODE[ref[1]]}|{int(ref[2])}"
    if kind == "maximo_poline":
        return f"{SITE_CODE[ref[1]]}|{ref[2]}|{int(ref[3])}"
    if kind == "maximo_task":
        return f"{SITE_CODE[ref[1]]}|{int(ref[2])}|{int(ref[3])}"
    if kind == "maximo_matuse":
        return str(int(ref[1]))
    raise ValueError(f"Maximo has no record of kind {kind!r}")


def _stamp(days, rng_seconds) -> np.ndarray:
    return timestamps(days, rng_seconds)


def _maybe(days: np.ndarray, present: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return np.where(present, _stamp(days, seconds), None)


def write_maximo(plant: Plant, out_dir: Path) -> dict[str, int]:
    """Write ``cmms_maximo.sqlite`` under ``out_dir``; returns the rows each stream will read."""
    path = out_dir / FILE_NAME
    path.unlink(missing_ok=True)
    rng = np.random.default_rng(plant.seed + 101)
    wos, tasks = plant.maint_wos, plant.maint_tasks

    def sec(n: int) -> np.ndarray:
        """Times of day within working hours."""
        return rng.integers(6 * 3600, 18 * 3600, size=n)

    n = len(wos)
    gen_po_line = wos["gen_po_line"].to_numpy()
    workorders = pd.DataFrame({
        "WONUM": wos["wonum"].astype(str), "PARENT": None, "ISTASK": 0, "TASKID": None,
        "SITEID": wos["site"].map(SITE_CODE), "ORGID": ORG, "STATUS": wos["status"],
        "STATUSDATE": _stamp(wos["status_day"], sec(n)), "WORKTYPE": wos["worktype"],
        "DESCRIPTION": wos["description"], "EQNUM": wos["eqnum"], "WOPRIORITY": wos["priority"],
        "REPORTDATE": _stamp(wos["report_day"], sec(n)), "SCHEDSTART": _stamp(wos["sched_day"], sec(n)),
        "ACTSTART": _maybe(wos["actstart_day"], wos["started"].to_numpy(), sec(n)),
        "ACTFINISH": _maybe(wos["actfinish_day"], wos["finished"].to_numpy(), sec(n)),
        "ESTLABCOST": wos["est_lab"], "ESTMATCOST": wos["est_mat"], "ESTSERVCOST": wos["est_serv"],
        "GLACCOUNT": wos["glaccount"],
        "GENERATEDFORPO": np.where(wos["gen_po"] != "", wos["gen_po"], None),
        "GENFORPOLINEID": np.where(gen_po_line > 0, gen_po_line, None),
        "CHANGEDATE": None,
    })
    workorders["CHANGEDATE"] = workorders["STATUSDATE"]
    m = len(tasks)
    task_rows = pd.DataFrame({
        "WONUM": tasks["wonum"].astype(str), "PARENT": tasks["parent"].astype(str), "ISTASK": 1,
        "TASKID": tasks["taskid"], "SITEID": tasks["site"].map(SITE_CODE), "ORGID": ORG,
        "STATUS": tasks["status"], "STATUSDATE": _stamp(tasks["status_day"], sec(m)),
        "WORKTYPE": None, "DESCRIPTION": tasks["description"], "EQNUM": None, "WOPRIORITY": None,
        "REPORTDATE": None, "SCHEDSTART": _stamp(tasks["sched_day"], sec(m)),
        "ACTSTART": _maybe(tasks["actstart_day"], tasks["actstart_day"].to_numpy() != 0, sec(m)),
        "ACTFINISH": _maybe(tasks["actfinish_day"], tasks["actfinish_day"].to_numpy() != 0, sec(m)),
        "ESTLABCOST": 0.0, "ESTMATCOST": 0.0, "ESTSERVCOST": 0.0, "GLACCOUNT": None,
        "GENERATEDFORPO": None, "GENFORPOLINEID": None, "CHANGEDATE": None,
    })
    task_rows["CHANGEDATE"] = task_rows["STATUSDATE"]
    wo_columns = [
        ("WONUM", "VARCHAR(18)"), ("PARENT", "VARCHAR(18)"), ("ISTASK", "INTEGER"), ("TASKID", "INTEGER"),
        ("SITEID", "VARCHAR(8)"), ("ORGID", "VARCHAR(8)"), ("STATUS", "VARCHAR(8)"), ("STATUSDATE", "TEXT"),
        ("WORKTYPE", "VARCHAR(5)"), ("DESCRIPTION", "VARCHAR(100)"), ("EQNUM", "VARCHAR(12)"),
        ("WOPRIORITY", "INTEGER"), ("REPORTDATE", "TEXT"), ("SCHEDSTART", "TEXT"), ("ACTSTART", "TEXT"),
        ("ACTFINISH", "TEXT"), ("ESTLABCOST", "REAL"), ("ESTMATCOST", "REAL"), ("ESTSERVCOST", "REAL"),
        ("GLACCOUNT", "VARCHAR(20)"), ("GENERATEDFORPO", "VARCHAR(12)"), ("GENFORPOLINEID", "INTEGER"),
        ("CHANGEDATE", "TEXT"),
    ]
    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        both = pd.concat([workorders, task_rows], ignore_index=True)
        write_sqlite_table(conn, "WORKORDER", wo_columns, both)
        counts["work_orders"], counts["tasks"] = len(workorders), len(task_rows)

        svc = plant.services
        wpservice = pd.DataFrame({
            "WPSERVICEID": np.arange(1, len(svc) + 1), "WONUM": svc["parent"].astype(str),
            "SITEID": svc["site"].map(SITE_CODE), "TASKID": svc["taskid"], "LINETYPE": "SERVICE",
            "ITEMNUM": svc["itemnum"], "DESCRIPTION": svc["description"], "VENDOR": svc["vendor"],
            "ITEMQTY": svc["qty"], "UNITCOST": svc["unitcost"], "LINECOST": svc["qty"] * svc["unitcost"],
        })
        write_sqlite_table(conn, "WPSERVICE", [
            ("WPSERVICEID", "INTEGER"), ("WONUM", "VARCHAR(18)"), ("SITEID", "VARCHAR(8)"), ("TASKID", "INTEGER"),
            ("LINETYPE", "VARCHAR(15)"), ("ITEMNUM", "VARCHAR(30)"), ("DESCRIPTION", "VARCHAR(100)"),
            ("VENDOR", "VARCHAR(12)"), ("ITEMQTY", "REAL"), ("UNITCOST", "REAL"), ("LINECOST", "REAL"),
        ], wpservice)

        mat = plant.material_use
        k = len(mat)
        matuse = pd.DataFrame({
            "MATUSETRANSID": mat["matusetransid"], "REFWO": mat["refwo"].astype(str),
            "SITEID": mat["site"].map(SITE_CODE), "ORGID": ORG, "ITEMNUM": mat["itemnum"],
            "DESCRIPTION": mat["description"], "STORELOC": mat["site"].map({"NORTH": "N-STORES", "SOUTH": "S-STORES"}),
            "QUANTITY": -mat["qty"], "UNITCOST": mat["unitcost"], "LINECOST": mat["linecost"],
            "CURRENCYCODE": mat["currency"], "ISSUETYPE": "ISSUE",
            "TRANSDATE": _stamp(mat["trans_day"], sec(k)), "ACTUALDATE": None,
            "LOTNUM": np.where(mat["lot"] != "", mat["lot"], None), "PONUM": None, "POLINENUM": None,
        })
        matuse["ACTUALDATE"] = matuse["TRANSDATE"]
        counts["material_issues"] = write_sqlite_table(conn, "MATUSETRANS", [
            ("MATUSETRANSID", "INTEGER"), ("REFWO", "VARCHAR(18)"), ("SITEID", "VARCHAR(8)"), ("ORGID", "VARCHAR(8)"),
            ("ITEMNUM", "VARCHAR(30)"), ("DESCRIPTION", "VARCHAR(100)"), ("STORELOC", "VARCHAR(18)"),
            ("QUANTITY", "REAL"), ("UNITCOST", "REAL"), ("LINECOST", "REAL"), ("CURRENCYCODE", "VARCHAR(8)"),
            ("ISSUETYPE", "VARCHAR(10)"), ("TRANSDATE", "TEXT"), ("ACTUALDATE", "TEXT"), ("LOTNUM", "VARCHAR(8)"),
            ("PONUM", "VARCHAR(12)"), ("POLINENUM", "INTEGER"),
        ], matuse)

        lab = plant.labour
        j = len(lab)
        start_sec = sec(j)
        labtrans = pd.DataFrame({
            "LABTRANSID": lab["labtransid"], "REFWO": lab["refwo"].astype(str), "SITEID": lab["site"].map(SITE_CODE),
            "ORGID": ORG, "LABORCODE": lab["laborcode"], "CRAFT": lab["craft"], "REGULARHRS": lab["hours"],
            "PAYRATE": lab["rate"], "LINECOST": lab["linecost"], "TRANSTYPE": "WORK", "OUTSIDE": "N",
            "STARTDATE": _stamp(lab["start_day"], start_sec), "TRANSDATE": _stamp(lab["start_day"], start_sec),
            "ENTERDATE": _stamp(lab["enter_day"], sec(j)),
        })
        counts["labour"] = write_sqlite_table(conn, "LABTRANS", [
            ("LABTRANSID", "INTEGER"), ("REFWO", "VARCHAR(18)"), ("SITEID", "VARCHAR(8)"), ("ORGID", "VARCHAR(8)"),
            ("LABORCODE", "VARCHAR(12)"), ("CRAFT", "VARCHAR(12)"), ("REGULARHRS", "REAL"), ("PAYRATE", "REAL"),
            ("LINECOST", "REAL"), ("TRANSTYPE", "VARCHAR(16)"), ("OUTSIDE", "VARCHAR(1)"), ("STARTDATE", "TEXT"),
            ("TRANSDATE", "TEXT"), ("ENTERDATE", "TEXT"),
        ], labtrans)

        links = plant.po_links
        poline = pd.DataFrame({
            "POLINEID": links["polineid"], "PONUM": links["ponum"], "POLINENUM": links["polinenum"],
            "REFWO": links["refwo"].astype(str), "SITEID": links["site"].map(SITE_CODE), "ORGID": ORG,
            "DESCRIPTION": links["description"], "ORDERQTY": links["qty"], "ORDERUNIT": "EA",
            "UNITCOST": links["unitcost"], "LINECOST": np.round(links["qty"] * links["unitcost"], 2),
            "SERVICE": "Y", "ENTERDATE": _stamp(links["enter_day"], sec(len(links))),
        })
        counts["po_links"] = write_sqlite_table(conn, "POLINE", [
            ("POLINEID", "INTEGER"), ("PONUM", "VARCHAR(12)"), ("POLINENUM", "INTEGER"), ("REFWO", "VARCHAR(18)"),
            ("SITEID", "VARCHAR(8)"), ("ORGID", "VARCHAR(8)"), ("DESCRIPTION", "VARCHAR(100)"),
            ("ORDERQTY", "REAL"), ("ORDERUNIT", "VARCHAR(8)"), ("UNITCOST", "REAL"), ("LINECOST", "REAL"),
            ("SERVICE", "VARCHAR(1)"), ("ENTERDATE", "TEXT"),
        ], poline)

        eq = plant.equipment
        equipment = pd.DataFrame({
            "EQNUM": eq["eqnum"], "PARENT": np.where(eq["parent"] != "", eq["parent"], None),
            "SITEID": eq["site"].map(SITE_CODE), "ORGID": ORG, "DESCRIPTION": eq["description"],
            "GLACCOUNT": eq["site"].map({"NORTH": "6100-EQ", "SOUTH": "6200-EQ"}),
            "CHANGEDATE": _stamp(eq["changed_day"], sec(len(eq))),
        })
        counts["assets"] = write_sqlite_table(conn, "EQUIPMENT", [
            ("EQNUM", "VARCHAR(12)"), ("PARENT", "VARCHAR(12)"), ("SITEID", "VARCHAR(8)"), ("ORGID", "VARCHAR(8)"),
            ("DESCRIPTION", "VARCHAR(100)"), ("GLACCOUNT", "VARCHAR(20)"), ("CHANGEDATE", "TEXT"),
        ], equipment)
        conn.commit()
    finally:
        conn.close()
    return counts

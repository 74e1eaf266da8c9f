"""Site NORTH's ERP as a JD Edwards EnterpriseOne database (SQLite file ``erp_jde.sqlite``).

The layout keeps the quirks a real JDE extract has: fixed-width CHAR columns padded with blanks
(business units right-justified in 12 characters), Julian dates (CYYDDD) with a separate HHMMSS
time, and implied decimals in integer columns:

=================  ==========================================================
column             stored as
=================  ==========================================================
PDLNID, PRLNID     line number x 1000 (1000 = line 1)
PDRLLN             operation number x 100 (3000 = operation 30)
PDUORG, PDUREC,    quantities with 2 implied decimals (1250 = 12.50)
PRUREC
PDPRRC, COUNCS     unit costs with 4 implied decimals (123456 = 12.3456)
PDAEXP, PRAREC     amounts with 2 implied decimals (cents)
CXCRR, UMCONV      floating point, as JDE keeps rates and factors
PDRORN             the related work order: numbers zero-filled to 8 ("00010023"), MES order
                   numbers as they are ("MO-26-000123"), left-justified in CHAR(12)
=================  ==========================================================

F43121 holds receipts (PRMATC '1', document type OV) and voucher matches (PRMATC '2', PV); a
receipt's PRVRMK (remark) carries the certificate of conformance number, PRLOTN its lot. F4801 holds
the copies of the NORTH production orders the MES interface creates (order type WO, the MES number
in the reference WAVR01).
Source keys, as the ``demo_jde`` specs build them (CHAR padding stripped, joined with ``|``):
purchase order ``00001|4711|OP|000``, line ``00001|4711|OP|000|1000``, receipt ``OV|300012|1``,
voucher ``PV|700045|1``, work order ``WO|1000042``, supplier ``4101``, item ``RM-100001``, rate ``EUR|USD|124183``,
conversion ``60001|BX|EA``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from threadline.demo.plant import HORIZON_DAYS, Plant, char, hhmmss, julian, write_sqlite_table

FILE_NAME = "erp_jde.sqlite"
COMPANY = "00001"
ORDER_TYPE = "OP"
SUFFIX = "000"
#: production and purchasing branch / maintenance stores branch, both at site NORTH
BRANCH_PLANT = "P100"
BRANCH_MAINT = "P110"
RECEIPT_DOC_START = 300001
#: order type of the work orders the MES interface creates (F4801 WADCTO)
WO_ORDER_TYPE = "WO"
VOUCHER_DOC_START = 700001
_LINE_TYPE = {"stock": "S", "service": "J", "osp": "OP"}
#: last status of a line: 220 entered, 400 received, 999 closed, 980 cancelled (next status beside it)
_LAST_STATUS = {"open": "220", "received": "400", "closed": "999", "cancelled": "980"}
_NEXT_STATUS = {"open": "400", "received": "510", "closed": "999", "cancelled": "999"}

#: streams of source ``jde`` as threadline.yaml configures them (name -> settings)
STREAMS = {
    "purchase_orders": {
        "mapping": "demo_jde/F4301.yaml",
        # JDE keeps no header status; it is the least advanced status of the live lines
        "query": ("SELECT h.*, COALESCE((SELECT MIN(d.PDLTTR) FROM F4311 d WHERE d.PDKCOO = h.PHKCOO "
                  "AND d.PDDOCO = h.PHDOCO AND d.PDDCTO = h.PHDCTO AND d.PDSFXO = h.PHSFXO "
                  "AND d.PDLTTR <> '980'), '980') AS HDLTTR FROM F4301 h"),
        "key": ["PHKCOO", "PHDOCO", "PHDCTO", "PHSFXO"], "bookmark": ["PHUPMJ", "PHTDAY"],
    },
    "po_lines": {
        "mapping": "demo_jde/F4311.yaml",
        "table": "F4311",
        "key": ["PDKCOO", "PDDOCO", "PDDCTO", "PDSFXO", "PDLNID"], "bookmark": ["PDUPMJ", "PDTDAY"],
    },
    "receipts": {
        "mapping": "demo_jde/F43121_receipts.yaml", "query": "SELECT * FROM F43121 WHERE PRMATC = '1'",
        "key": ["PRDCT", "PRDOC", "PRNLIN"], "bookmark": ["PRUPMJ", "PRTDAY"],
    },
    "vouchers": {
        "mapping": "demo_jde/F43121_vouchers.yaml", "query": "SELECT * FROM F43121 WHERE PRMATC = '2'",
        "key": ["PRDCT", "PRDOC", "PRNLIN"], "bookmark": ["PRUPMJ", "PRTDAY"],
    },
    "suppliers": {
        "mapping": "demo_jde/F0101.yaml",
        # the processes a supplier is approved for live in the custom table F550401 (one row per
        # supplier and process); the supplier changes when its address book entry or an approval does
        "query": ("SELECT a.*, p.APPRCSL, COALESCE(p.APCRTR, 'N') AS APCRTR, "
                  "MAX(a.ABUPMJ * 1000000 + a.ABUPMT, COALESCE(p.APSTAMP, 0)) AS ABCHGS FROM F0101 a LEFT JOIN "
                  "(SELECT APAN8, GROUP_CONCAT(TRIM(APPRCS)) AS APPRCSL, MAX(APCRTR) AS APCRTR, "
                  "MAX(APUPMJ * 1000000 + APUPMT) AS APSTAMP FROM F550401 GROUP BY APAN8) p ON p.APAN8 = a.ABAN8"),
        "key": ["ABAN8"], "bookmark": ["ABCHGS"],
    },
    "items": {
        "mapping": "demo_jde/F4101.yaml",
        "query": ("SELECT i.*, c.COMCU, c.COLEDG, c.COUNCS FROM F4101 i LEFT JOIN F4105 c "
                  "ON c.COITM = i.IMITM AND c.COLEDG = '07'"),
        "key": ["IMITM"], "bookmark": ["IMUPMJ", "IMTDAY"],
    },
    "fx_rates": {
        "mapping": "demo_jde/F0015.yaml", "table": "F0015",
        "key": ["CXCRCD", "CXCRDC", "CXEFT"], "bookmark": ["CXUPMJ", "CXTDAY"],
    },
    "work_orders": {
        "mapping": "demo_jde/F4801.yaml", "table": "F4801", "key": ["WADCTO", "WADOCO"],
        "bookmark": ["WAUPMJ", "WATDAY"],
    },
    "uom_conversions": {
        "mapping": "demo_jde/F41002.yaml",
        "query": ("SELECT u.*, i.IMLITM AS UMLITM FROM F41002 u LEFT JOIN F4101 i ON i.IMITM = u.UMITM"),
        "key": ["UMITM", "UMUM", "UMRUM"], "bookmark": ["UMUPMJ", "UMTDAY"],
    },
}


#: the unique indexes JD Edwards keeps on these tables (their primary keys); queries that join
#: headers to lines rely on them as they would on a real E1 database
PRIMARY_INDEXES = (
    "CREATE UNIQUE INDEX F4301_0 ON F4301 (PHDOCO, PHDCTO, PHKCOO, PHSFXO)",
    "CREATE UNIQUE INDEX F4311_0 ON F4311 (PDDOCO, PDDCTO, PDKCOO, PDSFXO, PDLNID)",
    "CREATE INDEX F43121_0 ON F43121 (PRMATC, PRDOCO, PRDCTO, PRKCOO, PRSFXO, PRLNID)",
    "CREATE UNIQUE INDEX F0101_0 ON F0101 (ABAN8)",
    "CREATE UNIQUE INDEX F550401_0 ON F550401 (APAN8, APPRCS)",
    "CREATE UNIQUE INDEX F4101_0 ON F4101 (IMITM)",
    "CREATE INDEX F4105_0 ON F4105 (COITM, COLEDG)",
    "CREATE UNIQUE INDEX F4801_0 ON F4801 (WADOCO)",
)


#: F550401, the plant's own table of supplier approvals: one row per supplier and process (the ERP's
#: process code), whether the process needs a certificate of conformance from this supplier, and
#: when the approval was given and last changed
_F550401_COLUMNS = [
    ("APAN8", "INTEGER"), ("APPRCS", "CHAR(15)"), ("APCRTR", "CHAR(1)"), ("APEFTJ", "INTEGER"),
    ("APUPMJ", "INTEGER"), ("APUPMT", "INTEGER"),
]


def _approvals(suppliers: pd.DataFrame) -> pd.DataFrame:
    """F550401 rows: one per supplier and approved process."""
    processes = suppliers["processes"].fillna("").str.split(",")
    rows = suppliers.assign(process=processes).explode("process")
    rows = rows[rows["process"].fillna("") != ""]
    return pd.DataFrame({
        "APAN8": rows["supplier_id"].astype("int64"), "APPRCS": char(rows["process"], 15),
        "APCRTR": np.where(rows["cert_required"], "Y", "N"), "APEFTJ": julian(rows["changed_day"]),
        "APUPMJ": julian(rows["changed_day"]), "APUPMT": 90000,
    })


def line_source_key(po_number: int, line_no: int) -> str:
    """Source key of a PO line (F4311) as the spec builds it."""
    return f"{COMPANY}|{int(po_number)}|{ORDER_TYPE}|{SUFFIX}|{int(line_no) * 1000}"


def source_key(ref: tuple) -> str:
    """The source key of a planted record (see ``Plant.defects``) in this source."""
    kind = ref[0]
    if kind == "po_line":
        return line_source_key(ref[2], ref[3])
    if kind == "receipt":
        return f"OV|{RECEIPT_DOC_START + int(ref[2]) - 1}|1"
    if kind == "invoice":
        return f"PV|{VOUCHER_DOC_START + int(ref[2]) - 1}|1"
    if kind == "jde_wo":
        return f"{WO_ORDER_TYPE}|{int(ref[1])}"
    raise ValueError(f"JD Edwards has no record of kind {kind!r}")


def _wo_reference(wo_ref: pd.Series) -> np.ndarray:
    """PDRORN: maintenance WO numbers zero-filled to 8 like JDE document numbers, MES numbers as they are."""
    text = wo_ref.astype(str).to_numpy(dtype=object)
    numeric = pd.Series(text).str.fullmatch(r"\d+").to_numpy()
    padded = np.where(numeric, pd.Series(text).str.zfill(8).to_numpy(dtype=object), text)
    return char(np.where(text == "", "", padded), 12)


def write_jde(plant: Plant, out_dir: Path) -> dict[str, int]:
    """Write ``erp_jde.sqlite`` under ``out_dir``; returns the rows each stream will read."""
    path = out_dir / FILE_NAME
    path.unlink(missing_ok=True)
    headers, lines, receipts, invoices, suppliers = plant.purchasing("jde")
    items = plant.items
    short_id = dict(zip(items["item_number"], items["short_id"]))
    branch_of_po = dict(zip(zip(lines["po_number"], lines["line_no"]),
                            np.where(lines["kind"] == "service", BRANCH_MAINT, BRANCH_PLANT)))
    header_branch = np.array([branch_of_po[(po, 1)] for po in headers["po_number"]], dtype=object)
    line_branch = np.array([branch_of_po[(po, ln)] for po, ln in zip(lines["po_number"], lines["line_no"])], dtype=object)

    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        f4301 = pd.DataFrame({
            "PHKCOO": COMPANY, "PHDOCO": headers["po_number"], "PHDCTO": ORDER_TYPE, "PHSFXO": SUFFIX,
            "PHMCU": char(header_branch, 12, right=True), "PHAN8": headers["supplier"].astype("int64"),
            "PHTRDJ": julian(headers["order_day"]), "PHDRQJ": julian(headers["order_day"] + 14),
            "PHCRCD": headers["currency"], "PHCRRM": "D", "PHORBY": char(headers["buyer"], 10),
            "PHHOLD": char(np.where(headers["approved"], "", "H1"), 2),
            "PHUSER": char(headers["buyer"], 10),
            "PHUPMJ": julian(headers["changed_day"]), "PHTDAY": hhmmss(headers["changed_sec"]),
        })
        counts["purchase_orders"] = write_sqlite_table(conn, "F4301", [
            ("PHKCOO", "CHAR(5)"), ("PHDOCO", "INTEGER"), ("PHDCTO", "CHAR(2)"), ("PHSFXO", "CHAR(3)"),
            ("PHMCU", "CHAR(12)"), ("PHAN8", "INTEGER"), ("PHTRDJ", "INTEGER"), ("PHDRQJ", "INTEGER"),
            ("PHCRCD", "CHAR(3)"), ("PHCRRM", "CHAR(1)"), ("PHORBY", "CHAR(10)"), ("PHHOLD", "CHAR(2)"),
            ("PHUSER", "CHAR(10)"), ("PHUPMJ", "INTEGER"), ("PHTDAY", "INTEGER"),
        ], f4301)

        need_by = np.where(lines["bad_need_by"], 0, julian(lines["need_by_day"]))
        need_by = np.where(lines["bad_need_by"], 126400, need_by)
        wo_linked = lines["wo_ref"].astype(str) != ""
        f4311 = pd.DataFrame({
            "PDKCOO": COMPANY, "PDDOCO": lines["po_number"], "PDDCTO": ORDER_TYPE, "PDSFXO": SUFFIX,
            "PDLNID": lines["line_no"] * 1000, "PDMCU": char(line_branch, 12, right=True),
            "PDAN8": lines["supplier"].astype("int64"),
            "PDITM": lines["item"].map(short_id).fillna(0).astype("int64"),
            "PDLITM": char(lines["item"], 25), "PDDSC1": char(lines["description"], 30),
            "PDLNTY": char(lines["kind"].map(_LINE_TYPE), 2),
            "PDUORG": np.round(lines["qty"] * 100).astype("int64"),
            "PDUREC": np.round(lines["received_qty"] * 100).astype("int64"),
            "PDPRRC": np.round(lines["unit_price"] * 10000).astype("int64"),
            "PDAEXP": np.round(lines["qty"] * lines["unit_price"] * 100).astype("int64"),
            "PDUOM": char(lines["uom"], 2), "PDTRDJ": julian(lines["order_day"]), "PDPDDJ": need_by,
            "PDRORN": _wo_reference(lines["wo_ref"]), "PDRCTO": char(np.where(wo_linked, "WO", ""), 2),
            "PDRLLN": np.where(wo_linked, lines["op_ref"].astype("int64") * 100, 0),
            "PDLTTR": lines["status"].map(_LAST_STATUS), "PDNXTR": lines["status"].map(_NEXT_STATUS),
            "PDCRCD": lines["currency"],
            "PDANI": char(np.where(lines["kind"] == "stock", line_branch + "." + lines["account"].str[:4],
                                   line_branch + "." + lines["account"].str.replace("-", ".")), 29),
            "PDUPMJ": julian(lines["changed_day"]), "PDTDAY": hhmmss(lines["changed_sec"]),
        })
        counts["po_lines"] = write_sqlite_table(conn, "F4311", [
            ("PDKCOO", "CHAR(5)"), ("PDDOCO", "INTEGER"), ("PDDCTO", "CHAR(2)"), ("PDSFXO", "CHAR(3)"),
            ("PDLNID", "INTEGER"), ("PDMCU", "CHAR(12)"), ("PDAN8", "INTEGER"), ("PDITM", "INTEGER"),
            ("PDLITM", "CHAR(25)"), ("PDDSC1", "CHAR(30)"), ("PDLNTY", "CHAR(2)"), ("PDUORG", "INTEGER"),
            ("PDUREC", "INTEGER"), ("PDPRRC", "INTEGER"), ("PDAEXP", "INTEGER"), ("PDUOM", "CHAR(2)"),
            ("PDTRDJ", "INTEGER"), ("PDPDDJ", "INTEGER"), ("PDRORN", "CHAR(12)"), ("PDRCTO", "CHAR(2)"),
            ("PDRLLN", "INTEGER"), ("PDLTTR", "CHAR(3)"), ("PDNXTR", "CHAR(3)"), ("PDCRCD", "CHAR(3)"),
            ("PDANI", "CHAR(29)"), ("PDUPMJ", "INTEGER"), ("PDTDAY", "INTEGER"),
        ], f4311)

        price = dict(zip(zip(lines["po_number"], lines["line_no"]), lines["unit_price"]))
        item_of = dict(zip(zip(lines["po_number"], lines["line_no"]), lines["item"]))
        supplier_of = dict(zip(headers["po_number"], headers["supplier"]))
        receipt_price = np.array([price[k] for k in zip(receipts["po_number"], receipts["line_no"])])
        per_unit = np.where(receipts["uom"] == receipts["line_uom"], 1.0, receipts["line_qty"] / receipts["qty"])
        receipt_rows = pd.DataFrame({
            "PRMATC": "1", "PRKCOO": COMPANY, "PRDOCO": receipts["po_number"], "PRDCTO": ORDER_TYPE,
            "PRSFXO": SUFFIX, "PRLNID": receipts["line_no"] * 1000,
            "PRDOC": RECEIPT_DOC_START + receipts["receipt_no"] - 1, "PRDCT": "OV", "PRNLIN": 1,
            "PRAN8": receipts["po_number"].map(supplier_of).astype("int64"),
            "PRLITM": char([item_of[k] for k in zip(receipts["po_number"], receipts["line_no"])], 25),
            "PRUREC": np.round(receipts["qty"] * 100).astype("int64"),
            "PRAREC": np.round(receipts["qty"] * per_unit * receipt_price * 100).astype("int64"),
            "PRUOM": char(receipts["uom"], 2), "PRCRCD": "USD", "PRRCDJ": julian(receipts["day"]),
            "PRLOTN": char(receipts["lot"], 30), "PRVINV": char([""] * len(receipts), 25),
            # the receiving clerk keys the certificate of conformance number into the remark
            "PRVRMK": char(receipts["certificate"], 30),
            "PRMCU": char([branch_of_po[k] for k in zip(receipts["po_number"], receipts["line_no"])], 12, right=True),
            "PRUPMJ": julian(receipts["day"]), "PRTDAY": hhmmss(receipts["changed_sec"]),
        })
        voucher_rows = pd.DataFrame({
            "PRMATC": "2", "PRKCOO": COMPANY, "PRDOCO": invoices["po_number"], "PRDCTO": ORDER_TYPE,
            "PRSFXO": SUFFIX, "PRLNID": invoices["line_no"] * 1000,
            "PRDOC": VOUCHER_DOC_START + invoices["invoice_no"] - 1, "PRDCT": "PV", "PRNLIN": 1,
            "PRAN8": invoices["supplier"].astype("int64"),
            "PRLITM": char([item_of[k] for k in zip(invoices["po_number"], invoices["line_no"])], 25),
            "PRUREC": np.round(invoices["qty"] * 100).astype("int64"),
            "PRAREC": np.round(invoices["amount"] * 100).astype("int64"),
            "PRUOM": char(invoices["uom"], 2), "PRCRCD": invoices["currency"], "PRRCDJ": julian(invoices["day"]),
            "PRLOTN": char([""] * len(invoices), 30), "PRVINV": char(invoices["supplier_invoice"], 25),
            "PRVRMK": char([""] * len(invoices), 30),
            "PRMCU": char([branch_of_po[k] for k in zip(invoices["po_number"], invoices["line_no"])], 12, right=True),
            "PRUPMJ": julian(invoices["day"]), "PRTDAY": hhmmss(invoices["changed_sec"]),
        })
        f43121_columns = [
            ("PRMATC", "CHAR(1)"), ("PRKCOO", "CHAR(5)"), ("PRDOCO", "INTEGER"), ("PRDCTO", "CHAR(2)"),
            ("PRSFXO", "CHAR(3)"), ("PRLNID", "INTEGER"), ("PRDOC", "INTEGER"), ("PRDCT", "CHAR(2)"),
            ("PRNLIN", "INTEGER"), ("PRAN8", "INTEGER"), ("PRLITM", "CHAR(25)"), ("PRUREC", "INTEGER"),
            ("PRAREC", "INTEGER"), ("PRUOM", "CHAR(2)"), ("PRCRCD", "CHAR(3)"), ("PRRCDJ", "INTEGER"),
            ("PRLOTN", "CHAR(30)"), ("PRVINV", "CHAR(25)"), ("PRVRMK", "CHAR(30)"), ("PRMCU", "CHAR(12)"), ("PRUPMJ", "INTEGER"),
            ("PRTDAY", "INTEGER"),
        ]
        write_sqlite_table(conn, "F43121", f43121_columns,
                           pd.concat([receipt_rows, voucher_rows], ignore_index=True))
        counts["receipts"], counts["vouchers"] = len(receipt_rows), len(voucher_rows)

        f0101 = pd.DataFrame({
            "ABAN8": suppliers["supplier_id"].astype("int64"), "ABALKY": char(suppliers["supplier_id"], 20),
            "ABALPH": char(suppliers["name"], 40), "ABAT1": char(["V"] * len(suppliers), 3),
            "ABUPMJ": julian(suppliers["changed_day"]), "ABUPMT": 80000,
        })
        counts["suppliers"] = write_sqlite_table(conn, "F0101", [
            ("ABAN8", "INTEGER"), ("ABALKY", "CHAR(20)"), ("ABALPH", "CHAR(40)"), ("ABAT1", "CHAR(3)"),
            ("ABUPMJ", "INTEGER"), ("ABUPMT", "INTEGER"),
        ], f0101)

        write_sqlite_table(conn, "F550401", _F550401_COLUMNS, _approvals(suppliers))
        f4101 = pd.DataFrame({
            "IMITM": items["short_id"], "IMLITM": char(items["item_number"], 25),
            "IMAITM": char(items["item_number"].str.replace("-", ""), 25),
            "IMDSC1": char(items["description"], 30), "IMUOM1": char(items["uom"], 2),
            # lot process type: 0 = not lot controlled, 1 = lot assigned on receipt
            "IMSRCE": np.where(items["lot_controlled"], "1", "0"), "IMSTKT": "S",
            "IMUPMJ": julian(items["changed_day"]), "IMTDAY": 70000,
        })
        counts["items"] = write_sqlite_table(conn, "F4101", [
            ("IMITM", "INTEGER"), ("IMLITM", "CHAR(25)"), ("IMAITM", "CHAR(25)"), ("IMDSC1", "CHAR(30)"),
            ("IMUOM1", "CHAR(2)"), ("IMSRCE", "CHAR(1)"), ("IMSTKT", "CHAR(1)"), ("IMUPMJ", "INTEGER"),
            ("IMTDAY", "INTEGER"),
        ], f4101)
        f4105 = pd.DataFrame({
            "COITM": items["short_id"], "COLITM": char(items["item_number"], 25),
            "COMCU": char([BRANCH_PLANT] * len(items), 12, right=True), "COLOCN": char([""] * len(items), 20),
            "COLOTN": char([""] * len(items), 30), "COLEDG": "07",
            "COUNCS": np.round(items["std_cost"] * 10000).astype("int64"),
            "COUPMJ": julian(items["changed_day"]), "COTDAY": 70000,
        })
        write_sqlite_table(conn, "F4105", [
            ("COITM", "INTEGER"), ("COLITM", "CHAR(25)"), ("COMCU", "CHAR(12)"), ("COLOCN", "CHAR(20)"),
            ("COLOTN", "CHAR(30)"), ("COLEDG", "CHAR(2)"), ("COUNCS", "INTEGER"), ("COUPMJ", "INTEGER"),
            ("COTDAY", "INTEGER"),
        ], f4105)

        fx = plant.fx_rates
        f0015 = pd.DataFrame({
            "CXCRCD": fx["from_currency"], "CXCRDC": fx["to_currency"], "CXEFT": julian(fx["day"]),
            "CXCRR": fx["rate"], "CXCRCM": "Y", "CXUPMJ": julian(fx["day"]), "CXTDAY": 60000,
        })
        counts["fx_rates"] = write_sqlite_table(conn, "F0015", [
            ("CXCRCD", "CHAR(3)"), ("CXCRDC", "CHAR(3)"), ("CXEFT", "INTEGER"), ("CXCRR", "REAL"),
            ("CXCRCM", "CHAR(1)"), ("CXUPMJ", "INTEGER"), ("CXTDAY", "INTEGER"),
        ], f0015)

        uom = plant.uom_conversions
        f41002 = pd.DataFrame({
            "UMMCU": char([""] * len(uom), 12), "UMITM": uom["short_id"].astype("int64"),
            "UMUM": char(uom["from_uom"], 2), "UMRUM": char(uom["to_uom"], 2), "UMCONV": uom["factor"],
            # the conversions were set up before the first order the demo holds
            "UMUPMJ": julian(np.full(len(uom), -HORIZON_DAYS - 10)), "UMTDAY": 60000,
        })
        counts["uom_conversions"] = write_sqlite_table(conn, "F41002", [
            ("UMMCU", "CHAR(12)"), ("UMITM", "INTEGER"), ("UMUM", "CHAR(2)"), ("UMRUM", "CHAR(2)"),
            ("UMCONV", "REAL"), ("UMUPMJ", "INTEGER"), ("UMTDAY", "INTEGER"),
        ], f41002)
        counts["work_orders"] = _write_work_orders(conn, plant.jde_wos)
        for statement in PRIMARY_INDEXES:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return counts


def _write_work_orders(conn: sqlite3.Connection, copies: pd.DataFrame) -> int:
    """F4801: the MES's NORTH production orders as the nightly interface copied them (see
    ``threadline.demo.traceability``), the MES order number in the reference WAVR01."""
    branch = char([BRANCH_PLANT] * len(copies), 12, right=True)
    f4801 = pd.DataFrame({
        "WADOCO": copies["wadoco"].astype("int64"), "WADCTO": WO_ORDER_TYPE, "WAKCOO": COMPANY,
        "WAMMCU": branch, "WAMCU": branch, "WADL01": char(copies["description"], 30),
        "WALITM": char(copies["item"], 25), "WAUORG": np.round(copies["qty"] * 100).astype("int64"),
        "WASRST": char(copies["status"], 2), "WATRDJ": julian(copies["created_day"]),
        "WASTRT": julian(copies["start_day"]), "WADRQJ": julian(copies["end_day"]),
        "WAVR01": char(copies["wo_number"], 25),
        "WAUPMJ": julian(np.minimum(copies["created_day"], -1)), "WATDAY": hhmmss(copies["changed_sec"]),
    })
    return write_sqlite_table(conn, "F4801", [
        ("WADOCO", "INTEGER"), ("WADCTO", "CHAR(2)"), ("WAKCOO", "CHAR(5)"), ("WAMMCU", "CHAR(12)"),
        ("WAMCU", "CHAR(12)"), ("WADL01", "CHAR(30)"), ("WALITM", "CHAR(25)"), ("WAUORG", "INTEGER"),
        ("WASRST", "CHAR(2)"), ("WATRDJ", "INTEGER"), ("WASTRT", "INTEGER"), ("WADRQJ", "INTEGER"),
        ("WAVR01", "CHAR(25)"), ("WAUPMJ", "INTEGER"), ("WATDAY", "INTEGER"),
    ], f4801)

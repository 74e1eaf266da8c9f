"""Small seeded ERPNext, Epicor and SAP purchasing and production tables in their real layouts.

Column names and types are read from the real-world material next to the checkout, never copied:

* ERPNext: ``erpnext/doctypes/*.json``. A DocType is the table ``tab<DocType name>`` (with a space,
  e.g. ``tabPurchase Order``); its columns are Frappe's standard ones (name, creation, modified,
  owner, docstatus, idx, and parent/parenttype/parentfield on child tables) plus every field that
  is not a layout element, typed as Frappe types them on MariaDB.
* Epicor Kinetic: ``epicor/epicor_po_job_tables_fields.csv`` (table, field, py_type).
* SAP: ``sap-bapi/purchaseOrder/fields.yaml``, the DDIC structures BAPI_PO_GETDETAIL1 returns.

The rows are seeded here by hand: a few ordinary records per table, each system's status
conventions, and planted bad rows the shipped mapping specs must quarantine. Every seeded column
name is checked against the catalogue, so a catalogue that renames a field fails loudly.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import column, create_engine, table, text


@dataclass
class PackageTable:
    """One source table: its columns with SQL types (in catalogue order) and its seeded rows."""

    name: str
    columns: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **values: Any) -> None:
        """Append a row; every column named must exist in the real layout."""
        unknown = sorted(set(values) - set(self.columns))
        if unknown:
            raise KeyError(f"{self.name}: columns {unknown} are not in the real-world catalogue")
        self.rows.append(values)


def load_tables(url: str, tables: dict[str, PackageTable]) -> None:
    """Create the tables (identifiers quoted by the database's own rules) and insert the rows."""
    engine = create_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            for t in tables.values():
                body = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in t.columns.items())
                mariadb = engine.dialect.name in ("mysql", "mariadb")
                suffix = " CHARACTER SET utf8mb4 ROW_FORMAT=DYNAMIC" if mariadb else ""
                conn.execute(text(f"CREATE TABLE {quote(t.name)} ({body}){suffix}"))
                if t.rows:
                    target = table(t.name, *(column(c) for c in t.columns))
                    conn.execute(target.insert(), [{c: row.get(c) for c in t.columns} for row in t.rows])
    finally:
        engine.dispose()


# ------------------------------------------------------------------ ERPNext

#: Frappe's MariaDB column types per field type; layout-only types (breaks, tables, buttons) have no column
_FRAPPE_TYPES = {
    "Currency": "DECIMAL(21,9)", "Float": "DECIMAL(21,9)", "Percent": "DECIMAL(21,9)",
    "Int": "INT(11)", "Check": "INT(1)", "Date": "DATE", "Datetime": "DATETIME(6)", "Time": "TIME(6)",
    "Duration": "DECIMAL(21,9)", "Rating": "DECIMAL(3,2)",
    "Small Text": "TEXT", "Text": "TEXT", "Long Text": "LONGTEXT", "Code": "LONGTEXT", "Text Editor": "LONGTEXT",
    "Markdown Editor": "LONGTEXT", "HTML Editor": "LONGTEXT", "JSON": "JSON", "Attach": "TEXT",
    "Attach Image": "TEXT", "Signature": "LONGTEXT", "Geolocation": "LONGTEXT",
}
_FRAPPE_NO_COLUMN = {"Section Break", "Column Break", "Tab Break", "Table", "Table MultiSelect", "HTML", "Button",
                     "Image", "Fold", "Heading"}
_FRAPPE_STANDARD = {"name": "VARCHAR(140) PRIMARY KEY", "creation": "DATETIME(6)", "modified": "DATETIME(6)",
                    "modified_by": "VARCHAR(140)", "owner": "VARCHAR(140)", "docstatus": "INT(1) NOT NULL DEFAULT 0",
                    "idx": "INT(8) NOT NULL DEFAULT 0"}
_FRAPPE_CHILD = {"parent": "VARCHAR(140)", "parentfield": "VARCHAR(140)", "parenttype": "VARCHAR(140)"}


def erpnext_table(realworld: Path, doctype_file: str) -> PackageTable:
    """The ``tab<DocType>`` table of one DocType definition, with Frappe's standard columns."""
    doctype = json.loads((realworld / "erpnext" / "doctypes" / f"{doctype_file}.json").read_text(encoding="utf-8"))
    columns = dict(_FRAPPE_STANDARD)
    if doctype.get("istable"):
        columns.update(_FRAPPE_CHILD)
    for f in doctype["fields"]:
        if f["fieldtype"] in _FRAPPE_NO_COLUMN:
            continue
        columns[f["fieldname"]] = _FRAPPE_TYPES.get(f["fieldtype"], "VARCHAR(140)")
    return PackageTable(f"tab{doctype['name']}", columns)


ERPNEXT_COMPANY = "Wind Power LLC"
#: the DocTypes the shipped ERPNext specs read
ERPNEXT_DOCTYPES = ("purchase_order", "purchase_order_item", "work_order", "work_order_operation", "job_card",
                    "subcontracting_order", "subcontracting_order_item")


def erpnext_tables(realworld: Path) -> dict[str, PackageTable]:
    """ERPNext purchase orders, work orders, job cards and subcontracting orders, with planted bad rows.

    Suppliers and item codes are the upstream demo data's. Planted, one each: a submitted PO whose
    status still says Draft, a PO line whose parent PO is gone, a submitted work order saying Draft,
    a work order operation whose work order is gone, a submitted job card without a posting date,
    a subcontracting order item naming a job card that does not exist.
    """
    base = realworld / "erpnext" / "demo_data"
    suppliers = [s["supplier_name"] for s in json.loads((base / "supplier.json").read_text(encoding="utf-8"))]
    items = [i["item_code"] for i in json.loads((base / "item.json").read_text(encoding="utf-8"))]
    t = {name: erpnext_table(realworld, name) for name in ERPNEXT_DOCTYPES}
    po, poi, wo, woo, jc = (t["purchase_order"], t["purchase_order_item"], t["work_order"],
                            t["work_order_operation"], t["job_card"])
    sco, scoi = t["subcontracting_order"], t["subcontracting_order_item"]
    stamp = "2026-03-02 08:15:00.000000"

    def doc(target: PackageTable, name: str, docstatus: int, **values):
        target.add(name=name, docstatus=docstatus, idx=0, owner="buyer@windpower.example", creation=stamp,
                   modified=stamp, modified_by="buyer@windpower.example", company=ERPNEXT_COMPANY, **values)

    def child(target: PackageTable, name: str, parent: str, parenttype: str, parentfield: str, idx: int,
              docstatus: int, **values):
        target.add(name=name, parent=parent, parenttype=parenttype, parentfield=parentfield, idx=idx,
                   docstatus=docstatus, owner="buyer@windpower.example", creation=stamp, modified=stamp, **values)

    # purchase orders: docstatus 0 draft, 1 submitted (status text says how far), 2 cancelled
    for name, docstatus, status, supplier in [
        ("PUR-ORD-2026-00001", 1, "To Receive and Bill", suppliers[0]),
        ("PUR-ORD-2026-00002", 1, "Completed", suppliers[1]),
        ("PUR-ORD-2026-00003", 0, "Draft", suppliers[2]),
        ("PUR-ORD-2026-00004", 2, "Cancelled", suppliers[0]),
        ("PUR-ORD-2026-00005", 1, "Draft", suppliers[1]),  # planted: submitted, yet the status says Draft
    ]:
        doc(po, name, docstatus, naming_series="PUR-ORD-.YYYY.-", supplier=supplier, supplier_name=supplier,
            transaction_date="2026-03-02", schedule_date="2026-03-20", currency="USD", conversion_rate=1,
            status=status, is_subcontracted=0)
    for name, parent, idx, docstatus, item, qty, rate, received, job_card in [
        ("a1f0c3e9b2", "PUR-ORD-2026-00001", 1, 1, items[0], 100, 4.25, 40, None),
        ("b7d2e4a011", "PUR-ORD-2026-00001", 2, 1, items[1], 10, 180.0, 0, "PO-JOB00002"),
        ("c3e5f60122", "PUR-ORD-2026-00002", 1, 1, items[2], 200, 5.23, 200, None),
        ("d4f6071233", "PUR-ORD-2026-00003", 1, 0, items[3], 5, 99.0, 0, None),
        ("e5071823a4", "PUR-ORD-2026-00004", 1, 2, items[4], 8, 12.5, 0, None),
        ("f6182934b5", "PUR-ORD-2025-00999", 1, 1, items[5], 3, 7.0, 0, None),  # planted: its PO is gone
    ]:
        child(poi, name, parent, "Purchase Order", "items", idx, docstatus, item_code=item, item_name=item,
              qty=qty, stock_qty=qty, rate=rate, amount=qty * rate, received_qty=received, uom="Nos",
              stock_uom="Nos", conversion_factor=1, schedule_date="2026-03-20",
              expense_account="5111 - Cost of Goods Sold - WP", warehouse="Stores - WP", job_card=job_card)

    # work orders: Draft / Not Started / In Process / Completed / Stopped / Closed / Cancelled
    for name, docstatus, status, qty in [
        ("MFG-WO-2026-00001", 1, "In Process", 10),
        ("MFG-WO-2026-00002", 1, "Completed", 4),
        ("MFG-WO-2026-00003", 0, "Draft", 6),
        ("MFG-WO-2026-00004", 2, "Cancelled", 2),
        ("MFG-WO-2026-00005", 1, "Draft", 1),  # planted: submitted, yet the status says Draft
    ]:
        doc(wo, name, docstatus, naming_series="MFG-WO-.YYYY.-", status=status, production_item=items[6],
            item_name=items[6], qty=qty, produced_qty=qty if status == "Completed" else 0, stock_uom="Nos",
            planned_start_date="2026-03-03 07:00:00", planned_end_date="2026-03-10 16:00:00",
            actual_start_date="2026-03-03 07:30:00" if docstatus == 1 else None,
            actual_end_date="2026-03-09 15:00:00" if status == "Completed" else None,
            planned_operating_cost=450.0, wip_warehouse="Work In Progress - WP", fg_warehouse="Finished Goods - WP")
    for name, parent, idx, docstatus, operation, workstation, status, subcontracted in [
        ("op0000001a", "MFG-WO-2026-00001", 1, 1, "Cutting", "Saw 1", "Completed", 0),
        ("op0000002b", "MFG-WO-2026-00001", 2, 1, "Heat Treatment", "Outside - Heat Treat", "Pending", 1),
        ("op0000003c", "MFG-WO-2026-00001", 3, 1, "Grinding", "Grinder 2", "Pending", 0),
        ("op0000004d", "MFG-WO-2026-00002", 1, 1, "Assembly", "Bench 1", "Completed", 0),
        ("op0000005e", "MFG-WO-2026-00003", 1, 0, "Cutting", "Saw 1", "Pending", 0),
        ("op0000006f", "MFG-WO-2026-00004", 1, 2, "Cutting", "Saw 1", "Work in Progress", 0),
        ("op00000070", "MFG-WO-2025-00777", 1, 1, "Cutting", "Saw 1", "Pending", 0),  # planted: its WO is gone
    ]:
        child(woo, name, parent, "Work Order", "operations", idx, docstatus, operation=operation,
              workstation=workstation, status=status, is_subcontracted=subcontracted, time_in_mins=60,
              completed_qty=10 if status == "Completed" else 0, sequence_id=idx,
              planned_start_time="2026-03-03 07:00:00", planned_end_time="2026-03-03 08:00:00",
              actual_start_time="2026-03-03 07:30:00" if status != "Pending" else None,
              actual_end_time="2026-03-03 09:00:00" if status == "Completed" else None)

    # job cards: the time booked on an operation; only submitted ones (docstatus 1) are final
    for name, docstatus, status, work_order, operation_id, operation, minutes, rate, posting_date in [
        ("PO-JOB00001", 1, "Completed", "MFG-WO-2026-00001", "op0000001a", "Cutting", 90, 45.0, "2026-03-03"),
        ("PO-JOB00002", 0, "Open", "MFG-WO-2026-00001", "op0000002b", "Heat Treatment", 0, 0.0, "2026-03-04"),
        ("PO-JOB00003", 1, "Completed", "MFG-WO-2026-00002", "op0000004d", "Assembly", 120, 38.5, "2026-03-05"),
        ("PO-JOB00004", 2, "Cancelled", "MFG-WO-2026-00004", "op0000006f", "Cutting", 30, 45.0, "2026-03-05"),
        ("PO-JOB00005", 1, "Completed", "MFG-WO-2026-00002", "op0000004d", "Assembly", 15, 38.5, None),  # planted
    ]:
        doc(jc, name, docstatus, naming_series="PO-JOB.#####", status=status, work_order=work_order,
            operation_id=operation_id, operation=operation, workstation="Saw 1", for_quantity=10,
            total_time_in_mins=minutes, hour_rate=rate, posting_date=posting_date, production_item=items[6])

    # subcontracting orders: the outside-processing order behind a PO, naming the job card it serves
    for name, docstatus, purchase_order in [
        ("SC-ORD-2026-00001", 1, "PUR-ORD-2026-00001"),
        ("SC-ORD-2026-00002", 1, "PUR-ORD-2026-00002"),
        ("SC-ORD-2026-00003", 2, "PUR-ORD-2026-00004"),
        ("SC-ORD-2026-00004", 1, "PUR-ORD-2026-00002"),
    ]:
        doc(sco, name, docstatus, naming_series="SC-ORD-.YYYY.-", purchase_order=purchase_order,
            supplier=suppliers[0], transaction_date="2026-03-02", status="Open" if docstatus == 1 else "Cancelled")
    for name, parent, docstatus, po_item, job_card in [
        ("sc00000001", "SC-ORD-2026-00001", 1, "b7d2e4a011", "PO-JOB00002"),
        ("sc00000002", "SC-ORD-2026-00002", 1, "c3e5f60122", None),  # not for a job card: no link asserted
        ("sc00000003", "SC-ORD-2026-00003", 2, "e5071823a4", "PO-JOB00004"),  # cancelled: asserts nothing
        ("sc00000004", "SC-ORD-2026-00004", 1, "c3e5f60122", "PO-JOB09999"),  # planted: the job card is gone
    ]:
        child(scoi, name, parent, "Subcontracting Order", "items", 1, docstatus, item_code=items[6], qty=10,
              rate=18.0, purchase_order_item=po_item, job_card=job_card)
    return {tbl.name: tbl for tbl in t.values()}


#: the ERPNext streams, as a threadline.yaml lists them; child tables join their parent for the
#: header fields a row needs (company, status) and the job card they name
ERPNEXT_STREAMS = [
    {"name": "purchase_orders", "mapping": "erpnext/purchase_order.yaml", "table": "tabPurchase Order",
     "key": ["name"], "bookmark": ["modified", "name"]},
    {"name": "po_lines", "mapping": "erpnext/purchase_order_item.yaml",
     "query": ("SELECT i.*, p.company AS po_company, p.supplier AS po_supplier, p.currency AS po_currency, "
               "p.docstatus AS po_docstatus, p.status AS po_status, jc.work_order AS job_card_work_order, "
               "op.idx AS job_card_operation_idx "
               "FROM `tabPurchase Order Item` i "
               "LEFT JOIN `tabPurchase Order` p ON p.name = i.parent "
               "LEFT JOIN `tabJob Card` jc ON jc.name = i.job_card "
               "LEFT JOIN `tabWork Order Operation` op ON op.name = jc.operation_id"),
     "key": ["name"], "bookmark": ["modified", "name"]},
    {"name": "work_orders", "mapping": "erpnext/work_order.yaml", "table": "tabWork Order",
     "key": ["name"], "bookmark": ["modified", "name"]},
    {"name": "operations", "mapping": "erpnext/work_order_operation.yaml",
     "query": ("SELECT o.*, w.company AS wo_company, w.qty AS wo_qty "
               "FROM `tabWork Order Operation` o LEFT JOIN `tabWork Order` w ON w.name = o.parent"),
     "key": ["name"], "bookmark": ["modified", "name"]},
    {"name": "job_cards", "mapping": "erpnext/job_card.yaml",
     "query": ("SELECT j.*, op.idx AS operation_idx FROM `tabJob Card` j "
               "LEFT JOIN `tabWork Order Operation` op ON op.name = j.operation_id"),
     "key": ["name"], "bookmark": ["modified", "name"]},
    {"name": "subcontracting_links", "mapping": "erpnext/subcontracting_order_item.yaml",
     "query": ("SELECT s.*, o.purchase_order, o.company, poi.idx AS po_line_idx, jc.work_order, "
               "op.idx AS operation_idx "
               "FROM `tabSubcontracting Order Item` s "
               "JOIN `tabSubcontracting Order` o ON o.name = s.parent "
               "LEFT JOIN `tabPurchase Order Item` poi ON poi.name = s.purchase_order_item "
               "LEFT JOIN `tabJob Card` jc ON jc.name = s.job_card "
               "LEFT JOIN `tabWork Order Operation` op ON op.name = jc.operation_id"),
     "key": ["name"], "bookmark": ["modified", "name"]},
]


# ------------------------------------------------------------------ Epicor

#: the catalogue's Python types as SQL Server keeps them (numbers are decimals in Kinetic; the
#: catalogue derives ``int`` from the REST schema's "number")
_EPICOR_TYPES = {"str": "NVARCHAR(200)", "int": "DECIMAL(22,8)", "bool": "BIT"}
EPICOR_TABLES = ("POHeader", "PODetail", "PORel", "JobHead", "JobOper")
EPICOR_COMPANY = "EPIC06"


def epicor_catalogue(realworld: Path) -> dict[str, dict[str, str]]:
    """Epicor columns by table: field name -> SQL type."""
    tables: dict[str, dict[str, str]] = {}
    with open(realworld / "epicor" / "epicor_po_job_tables_fields.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            tables.setdefault(row["table"], {})[row["field"]] = _EPICOR_TYPES[row["py_type"]]
    return tables


def epicor_tables(realworld: Path) -> dict[str, PackageTable]:
    """Epicor POs with releases that name the job operation they buy, and jobs with subcontract operations.

    Planted, one each: a PO header without a currency, a PO line without a unit cost, a subcontract
    release (JobSeqType S) naming no job, a job flagged complete but never released, a job operation
    whose SubContract flag is NULL.
    """
    catalogue = epicor_catalogue(realworld)
    t = {name: PackageTable(name, catalogue[name]) for name in EPICOR_TABLES}
    co = EPICOR_COMPANY
    for po_num, open_order, void, currency in [(4001, 1, 0, "USD"), (4002, 0, 0, "USD"), (4003, 0, 1, "EUR"),
                                               (4004, 1, 0, "")]:  # 4004 planted: no currency
        t["POHeader"].add(Company=co, PONum=po_num, OpenOrder=open_order, VoidOrder=void, VendorNum=217,
                          OrderDate="2026-03-02", CurrencyCode=currency, BuyerID="JSMITH", Approve=1,
                          ApprovalStatus="A", ContractOrder=0, POType="STD")
    for po_num, line, open_line, void, part, qty, cost, due in [
        (4001, 1, 1, 0, "BAR-4140", 100, 2.5, "2026-03-16"),
        (4001, 2, 1, 0, "HT-SVC", 25, 40.0, "2026-03-20"),
        (4002, 1, 0, 0, "BRG-6204", 50, 3.75, "2026-02-20"),
        (4003, 1, 0, 1, "PLT-ZN", 10, 12.0, "2026-03-25"),
        (4001, 3, 1, 0, "GSK-KIT", 4, None, "2026-03-16"),  # planted: no unit cost
    ]:
        t["PODetail"].add(Company=co, PONUM=po_num, POLine=line, OpenLine=open_line, VoidLine=void, PartNum=part,
                          LineDesc=f"{part} purchased", OrderQty=qty, XOrderQty=qty, DocUnitCost=cost,
                          UnitCost=cost, IUM="EA", PUM="EA", VendorNum=217, DueDate=due, CurrencyCode="USD")
    for po_num, line, rel, seq_type, job, asm, seq, void in [
        (4001, 1, 1, "M", "J1000", 0, 10, 0),   # material for the job: not an operation link
        (4001, 2, 1, "S", "J1000", 0, 20, 0),   # subcontract: PO 4001 line 2 buys J1000 operation 20
        (4002, 1, 1, "", "", 0, 0, 0),          # stock purchase
        (4003, 1, 1, "S", "J1001", 0, 10, 1),   # void release: asserts nothing
        (4001, 2, 2, "S", "", 0, 20, 0),        # planted: subcontract release naming no job
    ]:
        t["PORel"].add(Company=co, PONum=po_num, POLine=line, PORelNum=rel, JobSeqType=seq_type, JobNum=job,
                       AssemblySeq=asm, JobSeq=seq, VoidRelease=void, OpenRelease=1 - void, RelQty=10,
                       ReceivedQty=0, Plant="MfgSys", DueDate="2026-03-20", TranType="PUR-SUB")
    for job, closed, complete, released, held in [("J1000", 0, 0, 1, 0), ("J1001", 0, 1, 1, 0), ("J1002", 1, 1, 1, 0),
                                                  ("J1003", 0, 0, 0, 0), ("J1004", 0, 1, 0, 0)]:  # J1004 planted
        t["JobHead"].add(Company=co, JobNum=job, JobClosed=closed, JobComplete=complete, JobReleased=released,
                         JobHeld=held, JobFirm=1, PartNum="SHAFT-100", PartDescription="Drive shaft, hardened",
                         ProdQty=25, IUM="EA", StartDate="2026-03-03", DueDate="2026-03-27", Plant="MfgSys",
                         CreateDate="2026-03-01", ClosedDate="2026-03-28" if closed else None, SchedPriority=50)
    for job, asm, seq, op_code, subcontract, vendor, complete in [
        ("J1000", 0, 10, "SAW", 0, 0, 1),
        ("J1000", 0, 20, "HEATTRT", 1, 217, 0),
        ("J1000", 0, 30, "GRIND", 0, 0, 0),
        ("J1000", 1, 10, "ASSY", 0, 0, 0),
        ("J1001", 0, 10, "SAW", 0, 0, 1),
        ("J1000", 0, 40, "INSP", None, 0, 0),  # planted: SubContract is NULL
    ]:
        t["JobOper"].add(Company=co, JobNum=job, AssemblySeq=asm, OprSeq=seq, OpCode=op_code, OpDesc=f"{op_code} op",
                         SubContract=subcontract, VendorNum=vendor, OpComplete=complete, RunQty=25,
                         ActualStartDate="2026-03-04" if complete else None,
                         ActualEndDate="2026-03-05" if complete else None, RcvInspectionReq=int(op_code == "HEATTRT"))
    return t


EPICOR_STREAMS = [
    {"name": "purchase_orders", "mapping": "epicor/POHeader.yaml", "table": "POHeader", "key": ["Company", "PONum"]},
    {"name": "po_lines", "mapping": "epicor/PODetail.yaml", "table": "PODetail",
     "key": ["Company", "PONUM", "POLine"]},
    {"name": "po_releases", "mapping": "epicor/PORel.yaml", "table": "PORel",
     "key": ["Company", "PONum", "POLine", "PORelNum"]},
    {"name": "jobs", "mapping": "epicor/JobHead.yaml", "table": "JobHead", "key": ["Company", "JobNum"]},
    {"name": "job_operations", "mapping": "epicor/JobOper.yaml", "table": "JobOper",
     "key": ["Company", "JobNum", "AssemblySeq", "OprSeq"]},
]


# ------------------------------------------------------------------ SAP

#: DDIC data types as an RFC table hands them over: character-like types (CHAR, NUMC with its
#: leading zeros, DATS as YYYYMMDD, TIMS as HHMMSS, CUKY, UNIT) as text, packed numbers as decimals
_SAP_TEXT = {"CHAR", "NUMC", "DATS", "TIMS", "CUKY", "UNIT", "LANG", "CLNT", "ACCP", "SSTR", "STRG"}


def _sap_type(fmt: dict) -> str:
    if fmt["DATATYPE"] in _SAP_TEXT:
        return f"CHAR({fmt['LENG']})"
    if fmt["DATATYPE"] in ("INT1", "INT2", "INT4"):
        return "INTEGER"
    return f"DECIMAL({fmt['LENG'] + 2},{fmt.get('DECIMALS') or 0})"


def sap_catalogue(realworld: Path) -> dict[str, dict[str, str]]:
    """BAPIMEPOHEADER, BAPIMEPOITEM and BAPIEKBE as tables: field name -> SQL type.

    The catalogue keeps only PO_NUMBER of BAPIMEPOHEADER; its change-flag twin BAPIMEPOHEADERX has
    the same field names, and the types are the same-named fields of the PO list structure
    BAPIEKKOL; fields named differently there are CHAR, the dates among them CHAR(8) (DATS).
    Item and history rows of BAPI_PO_GETDETAIL1 belong to the PO the call asked for, so each
    table gets that PO_NUMBER.
    """
    fields = yaml.safe_load((realworld / "sap-bapi" / "purchaseOrder" / "fields.yaml").read_text(encoding="utf-8"))
    po_number = {"PO_NUMBER": _sap_type(fields["BAPIMEPOHEADER"]["PO_NUMBER"]["format"])}
    header_types = {name: _sap_type(f["format"]) for name, f in fields["BAPIEKKOL"].items()}
    header = {}
    for name in fields["BAPIMEPOHEADERX"]:
        if name in header_types:
            header[name] = header_types[name]
        elif name.endswith("DATE") or name.endswith("_DUEDATE") or name in ("VPER_START", "VPER_END", "WARRANTY"):
            header[name] = "CHAR(8)"
        else:
            header[name] = "CHAR(20)"
    header.update(po_number)
    return {
        "BAPIMEPOHEADER": header,
        "BAPIMEPOITEM": {**po_number, **{n: _sap_type(f["format"]) for n, f in fields["BAPIMEPOITEM"].items()}},
        "BAPIEKBE": {**po_number, **{n: _sap_type(f["format"]) for n, f in fields["BAPIEKBE"].items()}},
    }


def sap_tables(realworld: Path) -> dict[str, PackageTable]:
    """SAP POs, items and PO history (goods and invoice receipts) with SAP's zero padding and dates.

    Planted, one each: a header whose document date is not a date (20261341), an item priced per
    7 units (an unusual price unit the spec does not know), a goods receipt with posting date
    00000000, an invoice receipt without a currency.
    """
    catalogue = sap_catalogue(realworld)
    t = {name: PackageTable(name, columns) for name, columns in catalogue.items()}
    for po, doc_type, delete, vendor, doc_date in [
        ("4500000123", "NB", "", "0000100234", "20260302"),
        ("4500000124", "NB", "", "0000100235", "20260303"),
        ("0000004711", "FO", "", "0000100234", "20260210"),  # external number range: zero-padded
        ("4500000125", "NB", "L", "0000100236", "20260304"),  # deleted
        ("4500000126", "NB", "", "0000100234", "20261341"),  # planted: not a date
    ]:
        t["BAPIMEPOHEADER"].add(PO_NUMBER=po, COMP_CODE="1000", DOC_TYPE=doc_type, DELETE_IND=delete, STATUS="9",
                                CREAT_DATE=doc_date, CREATED_BY="MMBUYER", VENDOR=vendor, PURCH_ORG="1000",
                                PUR_GROUP="001", CURRENCY="EUR", CURRENCY_ISO="EUR", DOC_DATE=doc_date, LANGU="E")
    for po, item, cat, material, qty, price, per, delete, no_more_gr, final_inv in [
        ("4500000123", "00010", "0", "000000000000100100", 10, 250.0, 1, "", "", ""),
        ("4500000123", "00020", "9", "", 1, 1200.0, 1, "", "", ""),  # service: heat treatment
        ("4500000124", "00010", "0", "000000000000100200", 1000, 1500.0, 100, "", "X", ""),  # priced per 100
        ("0000004711", "00010", "0", "000000000000100300", 5, 80.0, 1, "", "X", "X"),
        ("4500000125", "00010", "0", "000000000000100100", 3, 250.0, 1, "L", "", ""),
        ("4500000124", "00020", "0", "000000000000100400", 70, 35.0, 7, "", "", ""),  # planted: per 7
    ]:
        t["BAPIMEPOITEM"].add(PO_NUMBER=po, PO_ITEM=item, ITEM_CAT=cat, MATERIAL=material, QUANTITY=qty,
                              NET_PRICE=price, PRICE_UNIT=per, DELETE_IND=delete, NO_MORE_GR=no_more_gr,
                              FINAL_INV=final_inv, PLANT="1000", STGE_LOC="0001", PO_UNIT="ST",
                              PO_UNIT_ISO="PCE", SHORT_TEXT=f"Material {material.lstrip('0') or 'service'}",
                              TRACKINGNO="", ACCTASSCAT="" if cat == "0" else "F")
    # planted: the last two (a goods receipt posted 00000000, an invoice receipt without a currency)
    for po, item, process, hist, year, doc, doc_item, move, qty, amount, sign, currency, posted in [
        ("4500000123", "00010", "1", "E", "2026", "5000000001", "0001", "101", 10, 2500.0, "S", "EUR", "20260310"),
        ("4500000123", "00010", "1", "E", "2026", "5000000002", "0001", "102", 2, 500.0, "H", "EUR", "20260311"),
        ("4500000124", "00010", "1", "E", "2026", "5000000003", "0002", "101", 1000, 15000.0, "S", "EUR", "20260312"),
        ("4500000123", "00010", "2", "Q", "2026", "5105600001", "0001", "", 8, 2000.0, "S", "EUR", "20260315"),
        ("4500000123", "00010", "2", "Q", "2026", "5105600002", "0001", "", 1, 250.0, "H", "EUR", "20260316"),
        ("4500000123", "00020", "9", "D", "2026", "1000000001", "0001", "", 1, 1200.0, "S", "EUR", "20260312"),
        ("4500000124", "00010", "1", "E", "2026", "5000000004", "0001", "101", 5, 75.0, "S", "EUR", "00000000"),
        ("4500000124", "00010", "2", "Q", "2026", "5105600003", "0001", "", 1000, 15000.0, "S", "", "20260318"),
    ]:
        t["BAPIEKBE"].add(PO_NUMBER=po, PO_ITEM=item, SERIAL_NO="00", PROCESS_ID=process, HIST_TYPE=hist,
                          DOC_YEAR=year, MAT_DOC=doc, MATDOC_ITM=doc_item, MOVE_TYPE=move, PSTNG_DATE=posted,
                          DOC_DATE=posted, ENTRY_DATE=posted, ENTRY_TIME="101500", QUANTITY=qty, VAL_LOCCUR=amount,
                          VAL_FORCUR=amount, CURRENCY=currency, CURRENCY_ISO=currency, DB_CR_IND=sign, PLANT="1000",
                          BATCH="B2026-07" if process == "1" else "", REF_DOC_NO="DN-88123" if process == "1" else "",
                          DELIV_UNIT="ST", DELIV_QTY=qty, LOC_CURR="EUR")
    return t


SAP_STREAMS = [
    {"name": "purchase_orders", "mapping": "sap/BAPIMEPOHEADER.yaml", "table": "BAPIMEPOHEADER", "key": ["PO_NUMBER"]},
    {"name": "po_items", "mapping": "sap/BAPIMEPOITEM.yaml", "table": "BAPIMEPOITEM", "key": ["PO_NUMBER", "PO_ITEM"]},
    # one PO history table, four specs: each takes its event type and debit/credit side
    *({"name": name, "mapping": f"sap/{spec}.yaml", "table": "BAPIEKBE",
       "key": ["PO_NUMBER", "PO_ITEM", "SERIAL_NO", "PROCESS_ID", "DOC_YEAR", "MAT_DOC", "MATDOC_ITM"]}
      for name, spec in (("goods_receipts", "BAPIEKBE_receipts"), ("receipt_reversals", "BAPIEKBE_receipt_reversals"),
                         ("invoice_receipts", "BAPIEKBE_invoices"), ("credit_memos", "BAPIEKBE_credit_memos"))),
]

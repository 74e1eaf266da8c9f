"""Site SOUTH's legacy ERP: its purchasing database and the SOAP web service in front of it.

``write_legacy_erp`` writes ``legacy_erp/purchasing.sqlite`` (the ERP's own tables) and
``legacy_erp/purchasing.wsdl``. ``start_erp_service`` serves them over real HTTP on 127.0.0.1:

- ``GET <path>?wsdl`` returns the WSDL with the endpoint address rewritten to the server itself;
- ``POST <path>`` answers SOAP 1.1 document/literal requests for GetPurchaseOrders, GetReceipts,
  GetInvoices and GetVendors, each paging with ``changedSince``/``startRow``/``maxRows`` and
  answering ``totalRows`` and ``moreRows``;
- every request needs HTTP basic auth (401 otherwise); requests are parsed with entities, DTDs and
  the network off, and a request carrying a DOCTYPE is refused; an unknown operation or a bad
  argument is a ``soap:Client`` fault with HTTP 500.

PO numbers are the legacy style ``PO-0004711``; the rest of the plant writes SOUTH's PO numbers
the same way. Source keys, as the ``demo_soap`` specs build them: purchase order ``PO-0004711``,
line ``PO-0004711|1``, receipt ``GR-0000123|1``, invoice ``IV-0000042|1``, vendor ``V20017``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from lxml import etree

from threadline.demo.plant import Plant, iso_dates, timestamps, write_sqlite_table

log = logging.getLogger(__name__)

NAMESPACE = "urn:threadline:demo:legacy-erp:purchasing:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_PATH = "/soap/purchasing"
DATABASE = "purchasing.sqlite"
WSDL = "purchasing.wsdl"
TEMPLATE = Path(__file__).resolve().parent / "templates" / WSDL
#: the legacy ERP's plant code for site SOUTH
SITE_CODE = "2000"
MAX_PAGE = 5000
MAX_REQUEST_BYTES = 1_000_000
_STATUS = {"open": "OPEN", "received": "RCVD", "closed": "CLSD", "cancelled": "CANC"}
_PO_TYPE = {"stock": "STD", "osp": "SUB", "service": "SRV"}
_LINE_TYPE = {"stock": "GOODS", "osp": "OSP", "service": "SERVICE"}

STREAMS = {
    "purchase_orders": {"mapping": "demo_soap/purchase_orders.yaml", "operation": "GetPurchaseOrders",
                        "records": "PurchaseOrder", "key": ["PONumber"], "bookmark": ["LastChanged"]},
    "po_lines": {"mapping": "demo_soap/po_lines.yaml", "operation": "GetPurchaseOrders",
                 "records": "PurchaseOrder/Lines/Line", "key": ["PurchaseOrder.PONumber", "LineNo"],
                 "bookmark": ["PurchaseOrder.LastChanged"]},
    "receipts": {"mapping": "demo_soap/receipts.yaml", "operation": "GetReceipts", "records": "Receipt",
                 "key": ["ReceiptNo", "ReceiptLine"], "bookmark": ["LastChanged"]},
    "invoices": {"mapping": "demo_soap/invoices.yaml", "operation": "GetInvoices", "records": "Invoice",
                 "key": ["InvoiceNo", "InvoiceLine"], "bookmark": ["LastChanged"]},
    "vendors": {"mapping": "demo_soap/vendors.yaml", "operation": "GetVendors", "records": "Vendor",
                "key": ["VendorId"], "bookmark": ["LastChanged"]},
}


def receipt_number(n: int) -> str:
    """The legacy ERP's goods receipt number: GR-0000123."""
    return f"GR-{int(n):07d}"


def invoice_number(n: int) -> str:
    """The legacy ERP's invoice document number: IV-0000042."""
    return f"IV-{int(n):07d}"


def source_key(ref: tuple) -> str:
    """The source key of a planted record (see ``Plant.defects``) in this source."""
    kind = ref[0]
    if kind == "po_line":
        return f"PO-{int(ref[2]):07d}|{int(ref[3])}"
    if kind == "invoice":
        return f"{invoice_number(ref[2])}|1"
    if kind == "receipt":
        return f"{receipt_number(ref[2])}|1"
    raise ValueError(f"the legacy ERP has no record of kind {kind!r}")


# ---------------------------------------------------------------------------- the database

def write_legacy_erp(plant: Plant, data_dir: Path, *, port: int = 0) -> dict[str, int]:
    """Write ``purchasing.sqlite`` and ``purchasing.wsdl`` (addressed to ``port``) into ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DATABASE
    path.unlink(missing_ok=True)
    headers, lines, receipts, invoices, vendors = plant.purchasing("soap")

    counts: dict[str, int] = {}
    conn = sqlite3.connect(path)
    try:
        counts["purchase_orders"] = write_sqlite_table(conn, "PURCHASE_ORDER", [
            ("PONumber", "TEXT PRIMARY KEY"), ("POType", "TEXT"), ("VendorId", "TEXT"), ("Site", "TEXT"),
            ("Currency", "TEXT"), ("Status", "TEXT"), ("OrderDate", "TEXT"), ("Approved", "INTEGER"),
            ("Buyer", "TEXT"), ("LastChanged", "TEXT"),
        ], pd.DataFrame({
            "PONumber": headers["po_label"], "POType": headers["kind"].map(_PO_TYPE),
            "VendorId": headers["supplier"], "Site": SITE_CODE, "Currency": headers["currency"],
            "Status": headers["status"].map(_STATUS), "OrderDate": iso_dates(headers["order_day"]),
            "Approved": headers["approved"].astype(int), "Buyer": headers["buyer"],
            "LastChanged": timestamps(headers["changed_day"], headers["changed_sec"], sep="T"),
        }))
        wo_linked = lines["wo_ref"].astype(str) != ""
        process = lines["process"].fillna("").astype(str).str.upper()
        write_sqlite_table(conn, "PO_LINE", [
            ("PONumber", "TEXT"), ("LineNo", "INTEGER"), ("ItemNo", "TEXT"), ("Description", "TEXT"),
            ("LineType", "TEXT"), ("Quantity", "REAL"), ("UOM", "TEXT"), ("UnitPrice", "REAL"),
            ("NeedByDate", "TEXT"), ("WorkOrderRef", "TEXT"), ("OperationRef", "TEXT"), ("Process", "TEXT"),
            ("Account", "TEXT"), ("Status", "TEXT"), ("ReceivedQty", "REAL"),
        ], pd.DataFrame({
            "PONumber": lines["po_label"], "LineNo": lines["line_no"],
            "ItemNo": np.where(lines["item"] != "", lines["item"], None), "Description": lines["description"],
            "LineType": lines["kind"].map(_LINE_TYPE), "Quantity": lines["qty"], "UOM": lines["uom"],
            "UnitPrice": lines["unit_price"], "NeedByDate": iso_dates(lines["need_by_day"]),
            "WorkOrderRef": np.where(wo_linked, lines["wo_ref"].astype(str), None),
            # material bought for a work order names no operation
            "OperationRef": np.where(wo_linked & (lines["op_ref"].astype("int64") != 0),
                                     lines["op_ref"].astype("int64").astype(str), None),
            "Process": np.where(process != "", process, None), "Account": lines["account"],
            "Status": lines["status"].map(_STATUS), "ReceivedQty": lines["received_qty"],
        }))
        counts["po_lines"] = len(lines)
        counts["receipts"] = write_sqlite_table(conn, "RECEIPT", [
            ("ReceiptNo", "TEXT"), ("ReceiptLine", "INTEGER"), ("PONumber", "TEXT"), ("LineNo", "INTEGER"),
            ("Quantity", "REAL"), ("UOM", "TEXT"), ("ReceiptDate", "TEXT"), ("LotNo", "TEXT"), ("SerialNo", "TEXT"),
            ("InspectionResult", "TEXT"), ("CertificateRef", "TEXT"), ("Site", "TEXT"), ("LastChanged", "TEXT"),
        ], pd.DataFrame({
            "ReceiptNo": [receipt_number(n) for n in receipts["receipt_no"]], "ReceiptLine": 1,
            "PONumber": receipts["po_label"], "LineNo": receipts["line_no"], "Quantity": receipts["qty"],
            "UOM": receipts["uom"], "ReceiptDate": iso_dates(receipts["day"]), "LotNo": receipts["lot"],
            "SerialNo": None, "InspectionResult": "ACCEPTED",
            "CertificateRef": np.where(receipts["certificate"] != "", receipts["certificate"], None),
            "Site": SITE_CODE, "LastChanged": timestamps(receipts["day"], receipts["changed_sec"], sep="T"),
        }))
        counts["invoices"] = write_sqlite_table(conn, "INVOICE", [
            ("InvoiceNo", "TEXT"), ("InvoiceLine", "INTEGER"), ("PONumber", "TEXT"), ("LineNo", "INTEGER"),
            ("Quantity", "REAL"), ("Amount", "REAL"), ("Currency", "TEXT"), ("InvoiceDate", "TEXT"),
            ("Site", "TEXT"), ("LastChanged", "TEXT"),
        ], pd.DataFrame({
            "InvoiceNo": [invoice_number(n) for n in invoices["invoice_no"]], "InvoiceLine": 1,
            "PONumber": invoices["po_label"], "LineNo": invoices["line_no"], "Quantity": invoices["qty"],
            "Amount": invoices["amount"], "Currency": invoices["currency"], "InvoiceDate": iso_dates(invoices["day"]),
            "Site": SITE_CODE, "LastChanged": timestamps(invoices["day"], invoices["changed_sec"], sep="T"),
        }))
        counts["vendors"] = write_sqlite_table(conn, "VENDOR", [
            ("VendorId", "TEXT PRIMARY KEY"), ("Name", "TEXT"), ("ApprovedProcesses", "TEXT"),
            ("CertRequired", "INTEGER"), ("Status", "TEXT"), ("Currency", "TEXT"), ("LastChanged", "TEXT"),
        ], pd.DataFrame({
            "VendorId": vendors["supplier_id"], "Name": vendors["name"],
            "ApprovedProcesses": np.where(vendors["processes"] != "", vendors["processes"], None),
            "CertRequired": vendors["cert_required"].astype(int), "Status": "ACTIVE", "Currency": vendors["currency"],
            "LastChanged": timestamps(vendors["changed_day"], np.full(len(vendors), 9 * 3600), sep="T"),
        }))
        for statement in ("CREATE INDEX po_changed ON PURCHASE_ORDER (LastChanged, PONumber)",
                          "CREATE INDEX line_po ON PO_LINE (PONumber, LineNo)",
                          "CREATE INDEX receipt_changed ON RECEIPT (LastChanged, ReceiptNo, ReceiptLine)",
                          "CREATE INDEX invoice_changed ON INVOICE (LastChanged, InvoiceNo, InvoiceLine)",
                          "CREATE INDEX vendor_changed ON VENDOR (LastChanged, VendorId)"):
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    (data_dir / WSDL).write_bytes(wsdl_document(f"http://127.0.0.1:{port}{SERVICE_PATH}"))
    return counts


def wsdl_document(endpoint: str, template: Path = TEMPLATE) -> bytes:
    """The WSDL with its service address set to ``endpoint``."""
    tree = etree.parse(str(template), _hardened_parser())
    for address in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        address.set("location", endpoint)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


# ---------------------------------------------------------------------------- the operations

@dataclass(frozen=True)
class _Record:
    """How one operation's records are read and written: table, key order and fields in WSDL order."""

    element: str
    table: str
    key: tuple[str, ...]
    #: (element name, xsd type, optional)
    fields: tuple[tuple[str, str, bool], ...]


_LINE_FIELDS = (
    ("LineNo", "int", False), ("ItemNo", "string", True), ("Description", "string", False),
    ("LineType", "string", False), ("Quantity", "decimal", False), ("UOM", "string", False),
    ("UnitPrice", "decimal", False), ("NeedByDate", "date", False), ("WorkOrderRef", "string", True),
    ("OperationRef", "string", True), ("Process", "string", True), ("Account", "string", False),
    ("Status", "string", False), ("ReceivedQty", "decimal", False),
)
OPERATIONS: dict[str, _Record] = {
    "GetPurchaseOrders": _Record("PurchaseOrder", "PURCHASE_ORDER", ("PONumber",), (
        ("PONumber", "string", False), ("POType", "string", False), ("VendorId", "string", False),
        ("Site", "string", False), ("Currency", "string", False), ("Status", "string", False),
        ("OrderDate", "date", False), ("Approved", "boolean", False), ("Buyer", "string", True),
        ("LastChanged", "dateTime", False))),
    "GetReceipts": _Record("Receipt", "RECEIPT", ("ReceiptNo", "ReceiptLine"), (
        ("ReceiptNo", "string", False), ("ReceiptLine", "int", False), ("PONumber", "string", False),
        ("LineNo", "int", False), ("Quantity", "decimal", False), ("UOM", "string", False),
        ("ReceiptDate", "date", False), ("LotNo", "string", True), ("SerialNo", "string", True),
        ("InspectionResult", "string", True), ("CertificateRef", "string", True), ("Site", "string", False),
        ("LastChanged", "dateTime", False))),
    "GetInvoices": _Record("Invoice", "INVOICE", ("InvoiceNo", "InvoiceLine"), (
        ("InvoiceNo", "string", False), ("InvoiceLine", "int", False), ("PONumber", "string", False),
        ("LineNo", "int", False), ("Quantity", "decimal", False), ("Amount", "decimal", False),
        ("Currency", "string", False), ("InvoiceDate", "date", False), ("Site", "string", False),
        ("LastChanged", "dateTime", False))),
    "GetVendors": _Record("Vendor", "VENDOR", ("VendorId",), (
        ("VendorId", "string", False), ("Name", "string", False), ("ApprovedProcesses", "string", True),
        ("CertRequired", "boolean", False), ("Status", "string", False), ("LastChanged", "dateTime", False))),
}


class SoapFault(Exception):
    """A fault to answer with: ``code`` is ``Client`` (the request is wrong) or ``Server``."""

    def __init__(self, message: str, code: str = "Client"):
        super().__init__(message)
        self.code = code


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=True)


def _decimal_text(value: Any) -> str | None:
    """An xsd:decimal as the ERP writes it: four places (None stays None)."""
    return None if value is None else format(float(value), ".4f")


def _escaped_sql(column: str) -> str:
    """SQL for the column's text as XML character data (``&``, ``<``, ``>`` and CR escaped, as lxml does)."""
    escaped = column
    for char, entity in (("'&'", "'&amp;'"), ("'<'", "'&lt;'"), ("'>'", "'&gt;'"), ("char(13)", "'&#13;'")):
        escaped = f"replace({escaped}, {char}, {entity})"
    # the replace chain is the costly part, and almost no value needs it (SQLite computes the
    # constant pattern once per statement)
    return f"iif({column} GLOB '*[&<>' || char(13) || ']*', {escaped}, {column})"


def _fields_sql(fields: tuple[tuple[str, str, bool], ...]) -> str:
    """SQL that renders a row's fields as its XML elements in WSDL order, in one string.

    A NULL optional field is left out; a NULL required one is an empty element (printf writes
    NULL as nothing). One printf per row: chaining ``||`` copies the growing string per field.
    """
    template, arguments = [], []
    for name, xsd_type, optional in fields:
        if xsd_type == "boolean":
            text = f"CASE WHEN {name} THEN 'true' WHEN NOT {name} THEN 'false' END"
        elif xsd_type == "decimal":
            text = f"xsd_decimal({name})"
        elif xsd_type == "int":
            text = f"CAST({name} AS INTEGER)"
        else:
            text = _escaped_sql(name)
        if optional:
            template.append("%s")
            arguments.append(f"iif({name} IS NULL, '', '<tns:{name}>' || {text} || '</tns:{name}>')")
        else:
            template.append(f"<tns:{name}>%s</tns:{name}>")
            arguments.append(text)
    return f"printf('{''.join(template)}', {', '.join(arguments)})"


def _arguments(request: etree._Element) -> tuple[str | None, int, int]:
    """changedSince (as stored text), startRow and maxRows of a page request; bad ones are Client faults."""
    values: dict[str, str] = {}
    for child in request:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name not in ("changedSince", "startRow", "maxRows"):
            raise SoapFault(f"unknown argument {name!r}; valid: changedSince, startRow, maxRows")
        values[name] = (child.text or "").strip()
    numbers = {}
    for name in ("startRow", "maxRows"):
        if name not in values:
            raise SoapFault(f"argument {name} is required")
        try:
            numbers[name] = int(values[name])
        except ValueError:
            raise SoapFault(f"argument {name} must be an integer, not {values[name]!r}") from None
    if numbers["startRow"] < 0:
        raise SoapFault("argument startRow must be 0 or more")
    if not 1 <= numbers["maxRows"] <= MAX_PAGE:
        raise SoapFault(f"argument maxRows must be between 1 and {MAX_PAGE}")
    since = values.get("changedSince") or None
    if since is not None:
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise SoapFault(f"argument changedSince must be an xsd:dateTime, not {since!r}") from None
        if moment.tzinfo is not None:
            # the ERP keeps its change stamps in UTC without a zone
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        since = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return since, numbers["startRow"], numbers["maxRows"]


def _page(conn: sqlite3.Connection, record: _Record, since: str | None, start: int,
          limit: int) -> tuple[list[tuple[str, str]], int]:
    """The page's records as (first key, fields as XML) and the total count of matching records."""
    where, params = ("WHERE LastChanged >= ?", [since]) if since else ("", [])
    total = conn.execute(f"SELECT COUNT(*) FROM {record.table} {where}", params).fetchone()[0]
    order = ", ".join(("LastChanged", *record.key))
    rows = conn.execute(f"SELECT {record.key[0]}, {_fields_sql(record.fields)} FROM {record.table} {where} "
                        f"ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, start]).fetchall()
    return rows, total


def _po_lines(conn: sqlite3.Connection, numbers: list[str]) -> dict[str, str]:
    """PO number -> its ``Lines`` element, for the purchase orders ``numbers``."""
    marks = ", ".join("?" for _ in numbers)
    lines = conn.execute(f"SELECT PONumber, {_fields_sql(_LINE_FIELDS)} FROM PO_LINE "
                         f"WHERE PONumber IN ({marks}) ORDER BY PONumber, LineNo", numbers)
    return {number: "<tns:Lines><tns:Line>" + "</tns:Line><tns:Line>".join(fields for _, fields in group)
            + "</tns:Line></tns:Lines>" for number, group in groupby(lines, key=itemgetter(0))}


#: the envelope's start, as lxml wrote it when the service built responses as trees
_ENVELOPE_START = (f"<?xml version='1.0' encoding='UTF-8'?>\n<soap:Envelope xmlns:soap=\"{SOAP_ENV}\" "
                   f"xmlns:tns=\"{NAMESPACE}\"><soap:Body>")


def answer(data_dir: Path, operation: str, request: etree._Element) -> bytes:
    """The response envelope (UTF-8 bytes) for one operation call (raises ``SoapFault`` for a bad call).

    SQLite renders each record's fields as XML text: building a tree per field costs several
    times more than the reading client's parse, and a page holds thousands of fields.
    """
    record = OPERATIONS.get(operation)
    if record is None:
        raise SoapFault(f"unknown operation {operation!r}; valid: {', '.join(OPERATIONS)}")
    since, start, limit = _arguments(request)
    conn = sqlite3.connect(f"file:{data_dir / DATABASE}?mode=ro", uri=True)
    conn.create_function("xsd_decimal", 1, _decimal_text, deterministic=True)
    try:
        rows, total = _page(conn, record, since, start, limit)
        lines = _po_lines(conn, [key for key, _ in rows]) if operation == "GetPurchaseOrders" and rows else None
    finally:
        conn.close()
    tag = f"tns:{record.element}"
    parts = [_ENVELOPE_START, f"<tns:{operation}Response>"]
    if lines is None:
        parts += [f"<{tag}>{fields}</{tag}>" for _, fields in rows]
    else:
        parts += [f"<{tag}>{fields}{lines.get(key, '<tns:Lines/>')}</{tag}>" for key, fields in rows]
    more = "true" if start + len(rows) < total else "false"
    parts.append(f"<tns:totalRows>{total}</tns:totalRows><tns:moreRows>{more}</tns:moreRows>"
                 f"</tns:{operation}Response></soap:Body></soap:Envelope>")
    return "".join(parts).encode("utf-8")


def fault_envelope(fault: SoapFault) -> bytes:
    """A SOAP 1.1 fault envelope (faultcode ``soap:Client`` or ``soap:Server``)."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(element, "faultstring").text = str(fault)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _operation_call(body: bytes) -> tuple[str, etree._Element]:
    """The operation name and its request element from a SOAP envelope (a fault when malformed)."""
    if b"<!DOCTYPE" in body.upper():
        raise SoapFault("a DOCTYPE is not allowed in a request")
    try:
        document = etree.fromstring(body, _hardened_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"the request is not well-formed XML: {exc.msg}") from None
    if document.docinfo.doctype:
        raise SoapFault("a DOCTYPE is not allowed in a request")
    root = document.getroot()
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("the request is not a SOAP 1.1 envelope")
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    calls = [c for c in body_element if isinstance(c.tag, str)] if body_element is not None else []
    if len(calls) != 1:
        raise SoapFault("the SOAP body must hold exactly one operation element")
    call = calls[0]
    qname = etree.QName(call)
    if qname.namespace != NAMESPACE:
        raise SoapFault(f"unknown operation {call.tag!r}; operations are in namespace {NAMESPACE}")
    return qname.localname, call


# ---------------------------------------------------------------------------- the HTTP server

class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes; with Nagle on, a kept-alive connection waits for
    # the client's delayed ACK (about 40 ms) before the body's last segment
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("legacy ERP %s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # both compared, always, so the answer time says nothing about which one was wrong
        user_ok = hmac.compare_digest(user.encode(), self.server.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.server.password.encode())
        return user_ok and password_ok

    def _deny(self) -> None:
        self._send(401, b"authentication required\n", "text/plain; charset=utf-8",
                   {"WWW-Authenticate": 'Basic realm="legacy-erp"'})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        if parts.path != SERVICE_PATH or parts.query.lower() != "wsdl":
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        if not self._authorized():
            self._deny()
            return
        self._send(200, self.server.wsdl)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if urlsplit(self.path).path != SERVICE_PATH:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        if not self._authorized():
            self._deny()
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REQUEST_BYTES:
            self._send(413 if length > MAX_REQUEST_BYTES else 400, b"request body missing or too large\n",
                       "text/plain; charset=utf-8")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            operation, call = _operation_call(body)
            envelope = answer(self.server.data_dir, operation, call)
        except SoapFault as fault:
            self._send(500, fault_envelope(fault))
            return
        except sqlite3.Error as exc:
            log.error("legacy ERP database error: %s", exc)
            self._send(500, fault_envelope(SoapFault("the purchasing database cannot be read", code="Server")))
            return
        self._send(200, envelope)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, data_dir: Path, username: str, password: str):
        super().__init__(address, _Handler)
        self.data_dir = data_dir
        self.username = username
        self.password = password
        wsdl_file = data_dir / WSDL
        host, port = self.server_address[:2]
        self.wsdl = wsdl_document(f"http://{host}:{port}{SERVICE_PATH}",
                                  wsdl_file if wsdl_file.is_file() else TEMPLATE)


@dataclass
class ErpService:
    """A running legacy ERP service; stop it with ``stop()`` or use it as a context manager."""

    url: str
    wsdl_url: str
    port: int
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ErpService:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_erp_service(data_dir: Path, *, username: str, password: str, host: str = "127.0.0.1",
                      port: int = 0) -> ErpService:
    """Serve the legacy ERP in ``data_dir`` (purchasing.sqlite + purchasing.wsdl) on ``host:port``.

    ``port=0`` picks a free port. The server runs in a background thread until ``stop()``.
    """
    data_dir = Path(data_dir)
    if not (data_dir / DATABASE).is_file():
        raise FileNotFoundError(
            f"{data_dir / DATABASE} does not exist; build the demo landscape first (threadline demo)")
    if not username or not password:
        raise ValueError("the legacy ERP service needs a username and a password for basic auth")
    server = _Server((host, port), data_dir, username, password)
    bound_host, bound_port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, name=f"legacy-erp-{bound_port}", daemon=True)
    thread.start()
    url = f"http://{bound_host}:{bound_port}{SERVICE_PATH}"
    return ErpService(url=url, wsdl_url=f"{url}?wsdl", port=bound_port, _server=server, _thread=thread)


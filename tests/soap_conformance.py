"""Local SOAP services that speak real ERP WSDLs, for conformance tests.

Each server listens on 127.0.0.1, serves its WSDL on ``GET <path>?wsdl`` (counting the fetches),
and answers SOAP 1.1 document/literal calls the way the real system pages:

- ``MaximoService``: IBM Maximo ``QueryMXISWOCHANGE`` from ``maximo/maximo-change.wsdl``, paging
  with the ``rsStart``/``maxItems`` attributes of the request element and answering ``rsStart``,
  ``rsCount`` and ``rsTotal``; ``WHERE`` may hold ``CHANGEDATE >= 'YYYY-MM-DD HH:MM:SS'``.
- ``NavService``: Dynamics NAV page ``ReadMultiple`` from ``dynamics-nav/salesorder.wsdl``,
  paging with ``bookmarkKey``/``setSize``; a ``No`` filter may hold ``>=SO-...``.
- ``TokenService``: a small event feed paging with page tokens (its WSDL is ``TOKEN_WSDL``).

Records are written in the WSDL's element order (read from the WSDL itself). Requests are parsed
with DTDs, entities and the network off; a DOCTYPE, a wrong namespace or operation, a bad paging
argument or a malformed filter is answered with a ``soap:Client`` fault. Credentials are checked as
HTTP basic auth or as a WS-Security UsernameToken (text or digest). Pages can be told to fail
(``failures[page id] = (mode, times)``: ``server_fault``, ``client_fault`` or ``http503``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from tests.servers import LoopbackHTTPServer

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
MAXIMO_NS = "http://www.ibm.com/maximo"
NAV_NS = "urn:microsoft-dynamics-schemas/page/salesorder"
TOKEN_NS = "urn:threadline:test:events:v1"
MAX_REQUEST_BYTES = 200_000


def realworld_dir() -> Path:
    """``../shared/realworld`` next to the project checkout."""
    return Path(__file__).resolve().parents[2] / "shared" / "realworld"


class ServiceFault(Exception):
    """A fault to answer with: ``code`` Client (the request is wrong) or Server (try later)."""

    def __init__(self, message: str, code: str = "Client", detail: str | None = None):
        super().__init__(message)
        self.code, self.detail = code, detail


def fault_envelope(code: str, message: str, detail: str | None = None) -> bytes:
    """A SOAP 1.1 fault envelope."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = code if ":" in code else f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    if detail is not None:
        etree.SubElement(etree.SubElement(fault, "detail"), "reason").text = detail
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True)


def sequence(wsdl: etree._ElementTree, type_name: str) -> list[str]:
    """The element names of a named complexType's sequence, in WSDL order."""
    found = wsdl.find(f".//{{{XSD}}}complexType[@name='{type_name}']")
    if found is None:
        raise KeyError(f"the WSDL has no complexType {type_name}")
    return [e.get("name") for e in found.find(f"{{{XSD}}}sequence").findall(f"{{{XSD}}}element")]


def enumeration(wsdl: etree._ElementTree, type_name: str) -> set[str]:
    found = wsdl.find(f".//{{{XSD}}}simpleType[@name='{type_name}']")
    return {e.get("value") for e in found.iter(f"{{{XSD}}}enumeration")}


def _text(value: Any, boolean: tuple[str, str]) -> str:
    if isinstance(value, bool):
        return boolean[0] if value else boolean[1]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_record(parent: etree._Element, tag: str, order: list[str], record: dict[str, Any],
                 boolean: tuple[str, str] = ("true", "false")) -> etree._Element:
    """``record`` as ``tag`` under ``parent``, its fields in WSDL ``order``.

    A value is text; ``(value, {attr: text})`` text with attributes; a dict a nested element;
    a list of dicts ``(child tag, order, records)`` repeated children.
    """
    namespace = etree.QName(parent).namespace
    element = etree.SubElement(parent, f"{{{namespace}}}{tag}")
    for name in order:
        if name not in record or record[name] is None:
            continue
        value = record[name]
        if isinstance(value, tuple) and len(value) == 3:
            child_tag, child_order, children = value
            holder = etree.SubElement(element, f"{{{namespace}}}{name}") if child_tag != name else element
            for child in children:
                write_record(holder, child_tag, child_order, child, boolean)
        elif isinstance(value, dict):
            nested = etree.SubElement(element, f"{{{namespace}}}{name}")
            for sub_name, sub_value in value.items():
                etree.SubElement(nested, f"{{{namespace}}}{sub_name}").text = _text(sub_value, boolean)
        elif isinstance(value, tuple):
            text, attributes = value
            child = etree.SubElement(element, f"{{{namespace}}}{name}", attributes)
            child.text = _text(text, boolean)
        else:
            etree.SubElement(element, f"{{{namespace}}}{name}").text = _text(value, boolean)
    return element


class _Handler(BaseHTTPRequestHandler):
    server: ConformanceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if url.path != self.server.service_path or url.query.lower() != "wsdl":
            self._send(404, b"not found\n", "text/plain")
            return
        with self.server.lock:
            self.server.wsdl_gets += 1
        self._send(200, self.server.wsdl_bytes)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        if urlsplit(self.path).path != self.server.service_path:
            self._send(404, b"not found\n", "text/plain")
            return
        if length > MAX_REQUEST_BYTES:
            self._send(413, b"request too large\n", "text/plain")
            return
        content = self.rfile.read(length)
        server = self.server
        if server.auth and server.auth[0] == "basic" and not self._basic_auth_ok():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="erp"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            if b"<!DOCTYPE" in content:
                raise ServiceFault("a DOCTYPE is not allowed in a request")
            try:
                envelope = etree.fromstring(content, _hardened_parser())
            except etree.XMLSyntaxError as exc:
                raise ServiceFault(f"the request is not well-formed XML: {exc}") from None
            if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
                raise ServiceFault(f"expected a SOAP 1.1 Envelope, got {envelope.tag}", "VersionMismatch")
            if server.auth and server.auth[0] != "basic":
                self._check_wsse(envelope)
            body = envelope.find(f"{{{SOAP_ENV}}}Body")
            operation = body[0] if body is not None and len(body) else None
            if operation is None:
                raise ServiceFault("the SOAP body is empty")
            action = (self.headers.get("SOAPAction") or "").strip('"')
            page_id, response = server.answer(operation, action)
            with server.lock:
                server.attempts[page_id] += 1
                seen = server.attempts[page_id]
                server.calls.append(page_id)
            mode, times = server.failures.get(page_id, (None, 0))
            if mode is not None and (times is None or seen <= times):
                if mode == "http503":
                    self._send(503, b"service unavailable\n", "text/plain")
                    return
                if mode == "server_fault":
                    raise ServiceFault("BMXAA6713E - the database is busy", "Server", f"lock wait on page {page_id}")
                raise ServiceFault("BMXAA4176E - argument out of range", "Client", f"page {page_id}")
        except ServiceFault as fault:
            self._send(500, fault_envelope(fault.code, str(fault), fault.detail))
            return
        out = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
        etree.SubElement(out, f"{{{SOAP_ENV}}}Body").append(response)
        self._send(200, etree.tostring(out, xml_declaration=True, encoding="UTF-8"))

    def _basic_auth_ok(self) -> bool:
        _, username, password = self.server.auth
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given, f"{username}:{password}")

    def _check_wsse(self, envelope: etree._Element) -> None:
        style, username, password = self.server.auth
        token = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        refused = ServiceFault("the security token could not be authenticated", "wsse:FailedAuthentication")
        if token is None or token.findtext(f"{{{WSSE}}}Username") != username:
            raise refused
        given = token.find(f"{{{WSSE}}}Password")
        kind = (given.get("Type") or "") if given is not None else ""
        with self.server.lock:
            self.server.wsse_password_types.append(kind.rsplit("#", 1)[-1])
        if style == "wsse_digest":
            if not kind.endswith("#PasswordDigest"):
                raise refused
            nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
            created = (token.findtext(f"{{{WSU}}}Created") or "").encode()
            expected = base64.b64encode(hashlib.sha1(nonce + created + password.encode()).digest()).decode()
            if not hmac.compare_digest(given.text or "", expected):
                raise refused
        elif not kind.endswith("#PasswordText") or not hmac.compare_digest(given.text or "", password):
            raise refused


class ConformanceServer(LoopbackHTTPServer):
    """A SOAP service on 127.0.0.1 for one WSDL; subclasses answer the operation."""

    service_path = "/ws/service"

    def __init__(self, wsdl_bytes: bytes):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.wsdl_bytes = wsdl_bytes
        self.wsdl = etree.ElementTree(etree.fromstring(wsdl_bytes, _hardened_parser()))
        self.lock = threading.Lock()
        self.wsdl_gets = 0
        #: ("basic" | "wsse_text" | "wsse_digest", username, password) or None
        self.auth: tuple[str, str, str] | None = None
        self.attempts: Counter[str] = Counter()
        self.calls: list[str] = []
        self.failures: dict[str, tuple[str, int | None]] = {}
        self.wsse_password_types: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.service_path}"

    def answer(self, operation: etree._Element, action: str) -> tuple[str, etree._Element]:
        """The page id (for counting and failures) and the response element for ``operation``."""
        raise NotImplementedError



def _int_attribute(element: etree._Element, name: str, minimum: int) -> int:
    text = element.get(name)
    if text is None:
        raise ServiceFault(f"BMXAA1234E - the {name} attribute is required by this service")
    try:
        value = int(text)
    except ValueError:
        raise ServiceFault(f"BMXAA1235E - {name}={text!r} is not an integer") from None
    if value < minimum:
        raise ServiceFault(f"BMXAA1236E - {name}={value} is below {minimum}")
    return value


class MaximoService(ConformanceServer):
    """Maximo's MXISWOCHANGE object structure: work orders with their activities."""

    service_path = "/meaweb/services/MXISWOCHANGE"
    MAX_ITEMS = 1000

    def __init__(self, wsdl_bytes: bytes, work_orders: int = 300):
        super().__init__(wsdl_bytes)
        self.wo_fields = sequence(self.wsdl, "MXISWOCHANGE_WOCHANGEType")
        self.activity_fields = sequence(self.wsdl, "MXISWOCHANGE_WOACTIVITYType")
        self.records: list[dict[str, Any]] = []
        self.add_work_orders(work_orders, datetime(2024, 3, 1, 6, 0, 0))

    def add_work_orders(self, count: int, first_change: datetime) -> None:
        """Append ``count`` work orders changed from ``first_change`` on, a few minutes apart."""
        start = len(self.records)
        for i in range(start, start + count):
            changed = first_change + timedelta(minutes=7 * (i - start))
            activities = [{
                "DESCRIPTION": f"Task {t + 1} of WO{10000 + i}", "STATUS": ("WAPPR", {"maxvalue": "WAPPR"}),
                "TASKID": (t + 1) * 10, "PARENT": f"WO{10000 + i}",
                "GENERATEDFORPO": f"PO{5000 + i}" if t == 0 and i % 3 == 0 else None,
                "GENFORPOLINEID": 800 + i if t == 0 and i % 3 == 0 else None,
                "ACTSERVCOST": round(125.5 * (t + 1), 2), "CHANGEDATE": changed, "WORKORDERID": 900000 + i * 10 + t,
            } for t in range(i % 4)]
            self.records.append({
                "ACTLABCOST": round(10.25 * (i % 17), 2), "ACTMATCOST": round(3.5 * (i % 11), 2),
                "ACTSERVCOST": (round(99.95 * (i % 5), 2), {"changed": "1"}) if i % 2 else round(99.95 * (i % 5), 2),
                "CHANGEDATE": changed, "DESCRIPTION": f"Pump overhaul {i} & seal check",
                "GENERATEDFORPO": f"PO{5000 + i}" if i % 3 == 0 else None,
                "GENFORPOLINEID": 800 + i if i % 3 == 0 else None,
                "GLACCOUNT": {"VALUE": f"6000-{i % 7:03d}"} if i % 2 == 0 else None,
                "ISTASK": False, "REPORTDATE": changed - timedelta(days=3), "SITEID": "BEDFORD",
                "STATUS": ("APPR" if i % 5 else "COMP", {"maxvalue": "APPR" if i % 5 else "COMP"}),
                "WONUM": f"WO{10000 + i}", "WORKORDERID": 700000 + i, "WOPRIORITY": 1 + i % 3,
                "WORKTYPE": "CM" if i % 2 else "PM",
                "WOACTIVITY": ("WOACTIVITY", self.activity_fields, activities),
            })

    def answer(self, operation: etree._Element, action: str) -> tuple[str, etree._Element]:
        if operation.tag != f"{{{MAXIMO_NS}}}QueryMXISWOCHANGE":
            raise ServiceFault(f"BMXAA0001E - unknown operation {operation.tag}; this service answers "
                               f"{{{MAXIMO_NS}}}QueryMXISWOCHANGE")
        if action != "urn:processDocument":
            raise ServiceFault(f"BMXAA0002E - SOAPAction {action!r} is not urn:processDocument")
        start = _int_attribute(operation, "rsStart", 0)
        size = _int_attribute(operation, "maxItems", 1)
        if size > self.MAX_ITEMS:
            raise ServiceFault(f"BMXAA0003E - maxItems={size} is above {self.MAX_ITEMS}")
        query = operation.find(f"{{{MAXIMO_NS}}}MXISWOCHANGEQuery")
        if query is None:
            raise ServiceFault("BMXAA0004E - MXISWOCHANGEQuery is required")
        since = self._where(query.findtext(f"{{{MAXIMO_NS}}}WHERE") or "")
        selected = sorted((r for r in self.records if since is None or r["CHANGEDATE"] >= since),
                          key=lambda r: (r["CHANGEDATE"], r["WONUM"]))
        page = selected[start:start + size]
        response = etree.Element(f"{{{MAXIMO_NS}}}QueryMXISWOCHANGEResponse", nsmap={None: MAXIMO_NS}, attrib={
            "creationDateTime": "2024-06-01T12:00:00", "rsStart": str(start), "rsCount": str(len(page)),
            "rsTotal": str(len(selected))})
        record_set = etree.SubElement(response, f"{{{MAXIMO_NS}}}MXISWOCHANGESet")
        for record in page:
            write_record(record_set, "WOCHANGE", self.wo_fields, record, boolean=("1", "0"))
        return f"{since}|{start}", response

    @staticmethod
    def _where(where: str) -> datetime | None:
        """This service's WHERE: empty, or ``CHANGEDATE >= 'YYYY-MM-DD HH:MM:SS'``."""
        where = where.strip()
        if not where:
            return None
        prefix = "CHANGEDATE >= '"
        if not (where.startswith(prefix) and where.endswith("'")):
            raise ServiceFault(f"BMXAA0005E - the WHERE clause {where!r} is not supported; "
                               f"use CHANGEDATE >= 'YYYY-MM-DD HH:MM:SS'")
        try:
            return datetime.strptime(where[len(prefix):-1], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise ServiceFault(f"BMXAA0006E - {where!r} holds no valid date") from None


class NavService(ConformanceServer):
    """Dynamics NAV 2015's Sales Order page: orders with their sales lines, ReadMultiple paging."""

    service_path = "/DynamicsNAV80/WS/CRONUS/Page/salesorder"

    def __init__(self, wsdl_bytes: bytes, orders: int = 130):
        super().__init__(wsdl_bytes)
        self.order_fields = sequence(self.wsdl, "salesorder")
        self.line_fields = sequence(self.wsdl, "Sales_Order_Line")
        self.filter_fields = enumeration(self.wsdl, "salesorder_Fields")
        self.records: list[dict[str, Any]] = []
        self.add_orders(orders)

    def add_orders(self, count: int) -> None:
        """Append ``count`` sales orders with the next numbers."""
        start = len(self.records)
        for i in range(start, start + count):
            number = f"SO{100001 + i}"
            lines = [{
                "Key": f"32;GwAAAAJ7/1MATwAxADAAMAAwADAAMQ{i:04d}{n}=;{1000 + n}0;", "Type": "Item",
                "No": f"ITEM-{(i * 7 + n) % 90:04d}", "Description": f"Bearing {n} for {number}",
                "Quantity": f"{1 + (i + n) % 9}", "Unit_Price": f"{12.5 + n:.2f}",
                "Line_Amount": f"{(1 + (i + n) % 9) * (12.5 + n):.2f}", "Shipment_Date": f"2024-04-{1 + n:02d}",
                "Nonstock": n % 2 == 1,
            } for n in range(i % 3)]
            self.records.append({
                "Key": f"28;EgAAAAJ7/1MATwAxADAAMAAwADAAMQ{i:05d}=;{7000 + i}0;", "No": number,
                "Sell_to_Customer_No": f"C{10000 + i % 40}", "Sell_to_Customer_Name": f"Customer {i % 40} & Sons",
                "Order_Date": f"2024-03-{1 + i % 28:02d}", "Status": "Open" if i % 4 else "Released",
                "Prices_Including_VAT": i % 2 == 0, "Amount": f"{100 + i * 3.25:.2f}",
                "SalesLines": ("Sales_Order_Line", self.line_fields, lines) if lines else None,
            })

    def answer(self, operation: etree._Element, action: str) -> tuple[str, etree._Element]:
        if operation.tag != f"{{{NAV_NS}}}ReadMultiple":
            raise ServiceFault(f"unknown operation {operation.tag}; this page answers {{{NAV_NS}}}ReadMultiple")
        if action != f"{NAV_NS}:ReadMultiple":
            raise ServiceFault(f"SOAPAction {action!r} does not name ReadMultiple")
        filters = operation.findall(f"{{{NAV_NS}}}filter")
        if not filters:
            raise ServiceFault("ReadMultiple needs at least one filter element")
        since = None
        for item in filters:
            field_name = item.findtext(f"{{{NAV_NS}}}Field")
            criteria = item.findtext(f"{{{NAV_NS}}}Criteria") or ""
            if field_name not in self.filter_fields:
                raise ServiceFault(f"the filter field {field_name!r} is not a field of the page")
            if field_name != "No" and criteria:
                raise ServiceFault(f"this page filters on No only, not {field_name}")
            if criteria:
                if not criteria.startswith(">=") or len(criteria) < 3:
                    raise ServiceFault(f"the filter criteria {criteria!r} is not supported; use >=<No>")
                since = criteria[2:]
        size_text = operation.findtext(f"{{{NAV_NS}}}setSize")
        if size_text is None or not size_text.strip().isdigit() or int(size_text) < 1:
            raise ServiceFault(f"setSize {size_text!r} must be a positive integer")
        bookmark = operation.findtext(f"{{{NAV_NS}}}bookmarkKey")
        selected = [r for r in self.records if since is None or r["No"] >= since]
        begin = 0
        if bookmark:
            keys = [r["Key"] for r in selected]
            if bookmark not in keys:
                raise ServiceFault(f"the bookmark key {bookmark!r} does not identify a record of this set")
            begin = keys.index(bookmark) + 1
        page = selected[begin:begin + int(size_text)]
        outer = etree.Element(f"{{{NAV_NS}}}ReadMultiple_Result", nsmap={None: NAV_NS})
        inner = etree.SubElement(outer, f"{{{NAV_NS}}}ReadMultiple_Result")
        for record in page:
            write_record(inner, "salesorder", self.order_fields, record)
        return f"{since}|{bookmark or ''}", outer


TOKEN_WSDL = f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="{TOKEN_NS}" xmlns:tns="{TOKEN_NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:types><xsd:schema targetNamespace="{TOKEN_NS}" elementFormDefault="qualified">
    <xsd:complexType name="Event"><xsd:sequence>
      <xsd:element name="Id" type="xsd:string"/><xsd:element name="Machine" type="xsd:string"/>
      <xsd:element name="At" type="xsd:dateTime"/><xsd:element name="Count" type="xsd:int"/>
    </xsd:sequence></xsd:complexType>
    <xsd:element name="ListEvents"><xsd:complexType><xsd:sequence>
      <xsd:element name="pageToken" type="xsd:string" minOccurs="0"/>
      <xsd:element name="pageSize" type="xsd:int"/></xsd:sequence></xsd:complexType></xsd:element>
    <xsd:element name="ListEventsResponse"><xsd:complexType><xsd:sequence>
      <xsd:element name="Event" type="tns:Event" minOccurs="0" maxOccurs="unbounded"/>
      <xsd:element name="nextPageToken" type="xsd:string" minOccurs="0"/>
    </xsd:sequence></xsd:complexType></xsd:element>
  </xsd:schema></wsdl:types>
  <wsdl:message name="In"><wsdl:part name="p" element="tns:ListEvents"/></wsdl:message>
  <wsdl:message name="Out"><wsdl:part name="p" element="tns:ListEventsResponse"/></wsdl:message>
  <wsdl:portType name="EventsPort"><wsdl:operation name="ListEvents">
    <wsdl:input message="tns:In"/><wsdl:output message="tns:Out"/></wsdl:operation></wsdl:portType>
  <wsdl:binding name="EventsBinding" type="tns:EventsPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="ListEvents"><soap:operation soapAction="{TOKEN_NS}/ListEvents"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation></wsdl:binding>
  <wsdl:service name="Events"><wsdl:port name="EventsPort" binding="tns:EventsBinding">
    <soap:address location="http://10.0.0.1/events"/></wsdl:port></wsdl:service>
</wsdl:definitions>"""


class TokenService(ConformanceServer):
    """An event feed that pages with opaque tokens; pages are not all full."""

    service_path = "/events"

    def __init__(self, events: int = 53):
        super().__init__(TOKEN_WSDL.encode())
        self.records = [{"Id": f"EV-{i:05d}", "Machine": f"M{i % 6}", "At": datetime(2024, 5, 1) + timedelta(minutes=i),
                         "Count": i * 3} for i in range(events)]
        self.tokens: dict[str, int] = {}

    def answer(self, operation: etree._Element, action: str) -> tuple[str, etree._Element]:
        if operation.tag != f"{{{TOKEN_NS}}}ListEvents":
            raise ServiceFault(f"unknown operation {operation.tag}")
        size_text = operation.findtext(f"{{{TOKEN_NS}}}pageSize") or ""
        if not size_text.isdigit() or int(size_text) < 1:
            raise ServiceFault(f"pageSize {size_text!r} must be a positive integer")
        token = operation.findtext(f"{{{TOKEN_NS}}}pageToken")
        if token is not None and token not in self.tokens:
            raise ServiceFault(f"the page token {token!r} was not handed out by this service")
        begin = self.tokens[token] if token is not None else 0
        # every other page is one short, as services filtering after the limit do
        end = min(begin + int(size_text) - (len(self.tokens) % 2), len(self.records))
        response = etree.Element(f"{{{TOKEN_NS}}}ListEventsResponse", nsmap={None: TOKEN_NS})
        for record in self.records[begin:end]:
            write_record(response, "Event", ["Id", "Machine", "At", "Count"], record)
        if end < len(self.records):
            following = hashlib.sha256(f"{end}".encode()).hexdigest()[:16]
            self.tokens[following] = end
            etree.SubElement(response, f"{{{TOKEN_NS}}}nextPageToken").text = following
        return token or "", response

"""The streaming parse against zeep on awkward responses, and the shapes it hands back to zeep."""

from __future__ import annotations

import pyarrow as pa
import pytest
import requests
import zeep
from lxml import etree

from connectors.records import dicts_to_table, flatten_nested
from connectors.soap import response_document
from connectors.soap_fast import FastPathUnsupported, ResponseIsFault, parse_response, plan_records

NS = "urn:example:shop:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

TYPES = """
  <xsd:simpleType name="Kind"><xsd:restriction base="xsd:string">
    <xsd:enumeration value="PART"/><xsd:enumeration value="SERVICE"/></xsd:restriction></xsd:simpleType>
  <xsd:complexType name="Address"><xsd:sequence>
    <xsd:element name="City" type="xsd:string"/><xsd:element name="Zip" type="xsd:int"/>
    <xsd:element name="Lines" type="xsd:string" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Item"><xsd:sequence>
    <xsd:element name="Sku" type="xsd:string"/><xsd:element name="Qty" type="xsd:int"/>
    <xsd:element name="Price" type="xsd:decimal"/><xsd:element name="Due" type="xsd:date"/>
    <xsd:element name="Kind" type="tns:Kind"/><xsd:element name="Order" type="xsd:string" minOccurs="0"/>
  </xsd:sequence></xsd:complexType>
  <xsd:complexType name="Items"><xsd:sequence>
    <xsd:element name="Item" type="tns:Item" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Order"><xsd:sequence>
    <xsd:element name="Id" type="xsd:string"/><xsd:element name="Placed" type="xsd:dateTime"/>
    <xsd:element name="Total" type="xsd:decimal"/><xsd:element name="Paid" type="xsd:boolean"/>
    <xsd:element name="Ship" type="tns:Address"/><xsd:element name="Items" type="tns:Items"/>
    <xsd:element name="Tag" type="xsd:string" minOccurs="0" maxOccurs="unbounded"/>
    <xsd:element name="Note" type="xsd:string" minOccurs="0" nillable="true"/>
    <xsd:element name="Stamp" type="xsd:dateTime"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Flagged"><xsd:sequence><xsd:element name="Id" type="xsd:string"/></xsd:sequence>
    <xsd:attribute name="flag" type="xsd:string"/></xsd:complexType>
  <xsd:complexType name="Either"><xsd:choice>
    <xsd:element name="A" type="xsd:string"/><xsd:element name="B" type="xsd:int"/></xsd:choice></xsd:complexType>
  <xsd:complexType name="Maybe"><xsd:sequence><xsd:element name="Id" type="xsd:string"/>
    <xsd:element name="Ship" type="tns:Address" minOccurs="0"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Open"><xsd:sequence><xsd:element name="Id" type="xsd:string"/>
    <xsd:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Deep"><xsd:sequence><xsd:element name="Id" type="xsd:string"/>
    <xsd:element name="Holder" type="tns:Maybe"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Money"><xsd:simpleContent><xsd:extension base="xsd:decimal">
    <xsd:attribute name="changed" type="xsd:boolean"/></xsd:extension></xsd:simpleContent></xsd:complexType>
  <xsd:complexType name="Account"><xsd:sequence><xsd:element name="VALUE" type="xsd:string" minOccurs="0"/>
    <xsd:element name="Part" type="xsd:string" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence>
    <xsd:attribute name="changed" type="xsd:boolean"/></xsd:complexType>
  <xsd:complexType name="Valued"><xsd:sequence><xsd:element name="Id" type="xsd:string"/>
    <xsd:element name="Cost" type="tns:Money" minOccurs="0"/>
    <xsd:element name="Account" type="tns:Account" minOccurs="0"/>
    <xsd:element name="Stamp" type="xsd:dateTime" minOccurs="0"/></xsd:sequence>
    <xsd:attribute name="action" type="xsd:string"/><xsd:attribute name="rank" type="xsd:int" default="5"/>
  </xsd:complexType>
"""

#: operation -> its response's record element type, plus whether the response has paging fields
OPERATIONS = {"GetOrders": ("Order", True), "GetFlagged": ("Flagged", True), "GetEither": ("Either", True),
              "GetMaybe": ("Maybe", True), "GetOpen": ("Open", True), "GetDeep": ("Deep", True), "GetWrapped": ("Order", False),
              "GetValued": ("Valued", True)}


def wsdl_text() -> str:
    elements, messages, ports, bindings = [], [], [], []
    for name, (record, paged) in OPERATIONS.items():
        extra = '<xsd:element name="count" type="xsd:int"/><xsd:element name="more" type="xsd:boolean"/>' \
            if paged else ""
        elements.append(f'<xsd:element name="{name}"><xsd:complexType><xsd:sequence>'
                        f'<xsd:element name="from" type="xsd:int"/></xsd:sequence></xsd:complexType></xsd:element>'
                        f'<xsd:element name="{name}Response"><xsd:complexType><xsd:sequence>'
                        f'<xsd:element name="{record}" type="tns:{record}" minOccurs="0" maxOccurs="unbounded"/>'
                        f'{extra}</xsd:sequence></xsd:complexType></xsd:element>')
        messages.append(f'<wsdl:message name="{name}In"><wsdl:part name="p" element="tns:{name}"/></wsdl:message>'
                        f'<wsdl:message name="{name}Out"><wsdl:part name="p" element="tns:{name}Response"/>'
                        f'</wsdl:message>')
        ports.append(f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}In"/>'
                     f'<wsdl:output message="tns:{name}Out"/></wsdl:operation>')
        bindings.append(f'<wsdl:operation name="{name}"><soap:operation soapAction="{NS}/{name}"/>'
                        f'<wsdl:input><soap:body use="literal"/></wsdl:input>'
                        f'<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="{NS}" xmlns:tns="{NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:types><xsd:schema targetNamespace="{NS}" elementFormDefault="qualified">{TYPES}{''.join(elements)}
  </xsd:schema></wsdl:types>
  {''.join(messages)}
  <wsdl:portType name="ShopPort">{''.join(ports)}</wsdl:portType>
  <wsdl:binding name="ShopBinding" type="tns:ShopPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>{''.join(bindings)}
  </wsdl:binding>
  <wsdl:service name="Shop"><wsdl:port name="ShopPort" binding="tns:ShopBinding">
    <soap:address location="http://127.0.0.1:9/shop"/></wsdl:port></wsdl:service>
</wsdl:definitions>"""


def order(n: int, placed: str, items: list[dict], **fields) -> str:
    item_xml = "".join(
        "<t:Item>" + "".join(f"<t:{k}>{v}</t:{k}>" if v is not None else f"<t:{k}/>" for k, v in item.items())
        + "</t:Item>" for item in items)
    values = {"Total": f"{n * 10.5:.2f}", "Paid": "true", "Note": f"note {n}", "Stamp": "2024-05-01T10:00:00", **fields}
    note = values["Note"]
    note_xml = '<t:Note xsi:nil="true"/>' if note is None else f"<t:Note>{note}</t:Note>"
    return (f"<t:Order><t:Id>O-{n}</t:Id><t:Placed>{placed}</t:Placed><t:Total>{values['Total']}</t:Total>"
            f"<t:Paid>{values['Paid']}</t:Paid><t:Ship><t:City>Linz &amp; Wels</t:City><t:Zip>{4000 + n}</t:Zip>"
            f"<t:Lines>a</t:Lines><t:Lines>b</t:Lines></t:Ship><t:Items>{item_xml}</t:Items>"
            f"<t:Tag>x</t:Tag><t:Tag>y</t:Tag>{note_xml}<!-- a comment --><t:Stamp>{values['Stamp']}</t:Stamp>"
            f"</t:Order>")


def envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:t="{NS}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>{body}</soap:Body></soap:Envelope>'
            ).encode()


RESPONSE = envelope(
    "<t:GetOrdersResponse>"
    + order(1, "2024-05-01T08:30:00+02:00", [
        {"Sku": "A-1", "Qty": " 7 ", "Price": "12.5000", "Due": "2024-06-01", "Kind": "PART", "Order": "inner"},
        {"Sku": None, "Qty": "abc", "Price": "1E+3", "Due": "2024-06-02Z", "Kind": "SERVICE"}])
    + order(2, "2024-05-02T09:00:00Z", [], Paid="0", Note=None)
    + order(3, "2024-05-03T23:59:59.123456-05:00", [
        {"Sku": "C-<![CDATA[3]]>", "Qty": "3", "Price": "-0.0001", "Due": "2024-07-31", "Kind": "PART"}],
        Paid="1", Total="", Stamp="2024-05-03 10:00:00")
    + "<t:count>3</t:count><t:more>false</t:more></t:GetOrdersResponse>")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("wsdl") / "shop.wsdl"
    path.write_text(wsdl_text())
    settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    client = zeep.Client(str(path), settings=settings)
    return client, client.wsdl.bindings[f"{{{NS}}}ShopBinding"]


def by_zeep(shop, operation: str, content: bytes, records: str) -> tuple[pa.Table | None, dict]:
    client, binding = shop
    response = requests.Response()
    response.status_code, response._content = 200, content
    response.headers["Content-Type"] = "text/xml; charset=utf-8"
    result = binding.process_reply(client, binding.get(operation), response)
    document = response_document(result, binding.get(operation).output.body)
    rows = flatten_nested(document, records)
    return (dicts_to_table(rows) if rows else None), document


def plan(shop, operation: str, records: str):
    return plan_records(shop[1].get(operation), records, SOAP_ENV)


@pytest.mark.parametrize("records", ["Order", "Order/Items/Item"])
def test_streamed_rows_equal_zeeps_on_awkward_values(shop, records):
    expected, document = by_zeep(shop, "GetOrders", RESPONSE, records)
    page = parse_response(plan(shop, "GetOrders", records), RESPONSE)
    assert page.table.column_names == expected.column_names
    assert page.table.schema == expected.schema
    assert page.table.to_pylist() == expected.to_pylist()
    assert page.table.equals(expected)
    assert page.top_records == 3 and page.rows == expected.num_rows
    assert page.response_values == {"count": document["count"], "more": document["more"]} == {"count": 3, "more": False}


def test_streamed_values_are_typed_like_zeeps(shop):
    page = parse_response(plan(shop, "GetOrders", "Order/Items/Item"), RESPONSE)
    rows = page.table.to_pylist()
    assert [r["Qty"] for r in rows] == [7, None, 3]  # zeep answers None for what it cannot convert
    assert rows[1]["Sku"] is None and rows[2]["Sku"] == "C-3"
    assert rows[0]["Order.Ship.City"] == "Linz & Wels" and rows[0]["Order.Ship.Zip"] == 4001
    assert rows[0]["Order"] == "inner"  # a field named like an ancestor stays the record's own
    assert rows[0]["Order.Stamp"] is not None  # ancestor fields after the nested list are there too
    assert "Order.Tag" not in page.table.column_names and "Order.Ship.Lines" not in page.table.column_names


def test_empty_and_absent_complex_children_give_zeeps_keys(shop):
    ship = "<t:Ship><t:City>Graz</t:City><t:Zip>8010</t:Zip></t:Ship>"
    content = envelope("<t:GetMaybeResponse><t:Maybe><t:Id>M-1</t:Id></t:Maybe><t:Maybe/>"
                       f"<t:Maybe><t:Id>M-2</t:Id>{ship}</t:Maybe><t:Maybe><t:Id>M-3</t:Id><t:Ship/></t:Maybe>"
                       "<t:count>4</t:count><t:more>true</t:more></t:GetMaybeResponse>")
    expected, _ = by_zeep(shop, "GetMaybe", content, "Maybe")
    page = parse_response(plan(shop, "GetMaybe", "Maybe"), content)
    assert page.table.column_names == expected.column_names == ["Id", "Ship", "Ship.City", "Ship.Zip"]
    assert page.table.equals(expected)
    assert page.top_records == 3  # the empty record is None to zeep, and skipped
    only_absent = content.replace(ship.encode(), b"")
    expected, _ = by_zeep(shop, "GetMaybe", only_absent, "Maybe")
    page = parse_response(plan(shop, "GetMaybe", "Maybe"), only_absent)
    assert page.table.column_names == expected.column_names == ["Id", "Ship"]
    assert page.table.equals(expected)


def test_an_empty_page_has_no_table_but_its_paging_fields(shop):
    content = envelope("<t:GetOrdersResponse><t:count>0</t:count><t:more>false</t:more></t:GetOrdersResponse>")
    page = parse_response(plan(shop, "GetOrders", "Order"), content)
    assert page.table is None and page.top_records == 0 and page.response_values["count"] == 0


def test_a_fault_with_http_200_is_handed_back(shop):
    content = envelope("<soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault>")
    with pytest.raises(ResponseIsFault):
        parse_response(plan(shop, "GetOrders", "Order"), content)


def test_a_doctype_is_refused_and_entities_are_never_expanded(shop):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              + envelope("<t:GetOrdersResponse>" + order(1, "2024-05-01T08:30:00", []).replace(
                  "O-1", "&lol2;") + "<t:count>1</t:count><t:more>false</t:more></t:GetOrdersResponse>")
              .split(b"?>", 1)[1])
    with pytest.raises(etree.XMLSyntaxError, match="DOCTYPE"):
        parse_response(plan(shop, "GetOrders", "Order"), laughs)


def test_a_doctype_after_a_comment_naming_the_envelope_is_refused_too(shop):
    sneaky = (b'<?xml version="1.0"?><!-- soap:Envelope --><!DOCTYPE x [<!ENTITY e "boom">]>'
              + envelope("<t:GetOrdersResponse><t:count>0</t:count><t:more>false</t:more></t:GetOrdersResponse>")
              .split(b"?>", 1)[1])
    with pytest.raises(etree.XMLSyntaxError, match="DOCTYPE"):
        parse_response(plan(shop, "GetOrders", "Order"), sneaky)


def test_a_different_response_element_is_an_error(shop):
    content = envelope("<t:GetFlaggedResponse><t:count>0</t:count><t:more>false</t:more></t:GetFlaggedResponse>")
    with pytest.raises(etree.XMLSyntaxError, match="GetOrdersResponse"):
        parse_response(plan(shop, "GetOrders", "Order"), content)


@pytest.mark.parametrize("operation, records, reason", [
    ("GetEither", "Either", "choice"),
    ("GetOpen", "Open", "xsd:any"),
    ("GetDeep", "Deep", "element Holder in Deep holds the complex element Ship"),
    ("GetOrders", "Order/Lines/Line", "no element Lines in Order"),
    ("GetOrders", "Order/Id", "simple value"),
])
def test_shapes_zeep_would_flatten_differently_are_left_to_zeep(shop, operation, records, reason):
    with pytest.raises(FastPathUnsupported) as raised:
        plan(shop, operation, records)
    assert reason in raised.value.reason


def test_attributes_are_fields_and_values_with_attributes_are_their_value(shop):
    content = envelope(
        '<t:GetValuedResponse><t:Valued action="Add"><t:Id>V-1</t:Id><t:Cost changed="1">12.50</t:Cost>'
        '<t:Account changed="true"><t:VALUE>6000-100</t:VALUE><t:Part>6000</t:Part></t:Account></t:Valued>'
        '<t:Valued rank="x"><t:Id>V-2</t:Id><t:Cost>3</t:Cost><t:Account/><t:Stamp>2024-05-01T10:00:00</t:Stamp>'
        '</t:Valued><t:Valued action="Drop"/><t:Valued/>'
        '<t:count>4</t:count><t:more>false</t:more></t:GetValuedResponse>')
    expected, _ = by_zeep(shop, "GetValued", content, "Valued")
    page = parse_response(plan(shop, "GetValued", "Valued"), content)
    assert page.table.column_names == expected.column_names
    assert page.table.equals(expected)
    rows = page.table.to_pylist()
    assert [r["Cost"] for r in rows] == [12.5, 3.0, None]  # the changed flag is not a column
    assert [r["action"] for r in rows] == ["Add", None, "Drop"]  # an attribute-only record is a record
    assert [r["rank"] for r in rows] == ["5", None, "5"]  # zeep's default for an absent attribute; None if bad
    assert rows[0]["Account.VALUE"] == "6000-100" and rows[0]["Account.changed"] is True
    assert page.top_records == 3 and page.last_record["action"] == "Drop"


def test_a_response_zeep_unwraps_reads_from_the_response_element(shop):
    orders = order(1, "2024-05-01T08:30:00", []) + order(2, "2024-05-02T08:30:00", [])
    content = envelope(f"<t:GetWrappedResponse>{orders}</t:GetWrappedResponse>")
    expected, document = by_zeep(shop, "GetWrapped", content, "Order")
    page = parse_response(plan(shop, "GetWrapped", "Order"), content)
    assert list(document) == ["Order"] and expected.num_rows == 2
    assert page.table.equals(expected)
    assert page.top_records == 2 and page.last_record["Id"] == "O-2"


@pytest.mark.parametrize("stamp", [
    "2024-02-29T23:59:59", "2023-02-29T10:00:00", "2024-05-01T24:00:00", "2024-05-01T10:00:60",
    "2024-13-01T00:00:00", "0000-01-01T00:00:00", "\u0662\u0660\u0662\u0664-05-01T10:00:00",
    " 2024-05-01T10:00:00 ", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5", "2024-05-01 10:00:00",
    "2024-05-01"])
def test_date_times_convert_exactly_as_zeeps_plain_and_otherwise(shop, stamp):
    content = envelope("<t:GetOrdersResponse>" + order(1, stamp, []) + order(2, "2024-05-01T10:00:00", [], Stamp=stamp)
                       + "<t:count>2</t:count><t:more>false</t:more></t:GetOrdersResponse>")
    expected, _ = by_zeep(shop, "GetOrders", content, "Order")
    page = parse_response(plan(shop, "GetOrders", "Order"), content)
    for column in ("Placed", "Stamp"):
        assert page.table.column(column).to_pylist() == expected.column(column).to_pylist()
    assert page.table.equals(expected)


@pytest.mark.parametrize("price", ["12.5000", " 7 ", "\n1.5\t", "1_000", "1E+3", "-0.0001", "+.5", "NaN",
                                   "\u0661\u0662.5"])
def test_decimals_convert_exactly_as_zeeps(shop, price):
    item = {"Sku": "A-1", "Qty": "1", "Price": price, "Due": "2024-06-01", "Kind": "PART"}
    content = envelope("<t:GetOrdersResponse>" + order(1, "2024-05-01T10:00:00", [item], Total=price)
                       + "<t:count>1</t:count><t:more>false</t:more></t:GetOrdersResponse>")
    expected, _ = by_zeep(shop, "GetOrders", content, "Order/Items/Item")
    page = parse_response(plan(shop, "GetOrders", "Order/Items/Item"), content)
    assert page.table.column("Price").to_pylist() == expected.column("Price").to_pylist()
    assert page.table.column("Order.Total").to_pylist() == expected.column("Order.Total").to_pylist()
    assert page.table.equals(expected)

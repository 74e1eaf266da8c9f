"""Streaming parse of large SOAP responses, guided by the WSDL's types.

zeep turns a response into nested objects before the connector flattens them into rows; on a page
of thousands of PO lines that costs several times the parse itself. Here the same response bytes
go through ``lxml.etree.iterparse`` straight into flat rows with the same columns, values and
types as ``connectors.records.flatten_nested`` gives on zeep's objects:

- a record's simple fields by name, each converted by the zeep type of its element
  (``pythonvalue``, so xsd:int, decimal, boolean, date and dateTime come out exactly as zeep
  makes them, and a value zeep cannot convert is None here too);
- a single nested complex child's simple fields dotted (``Address.City``), or the child's name
  alone with None when it has no child elements (zeep answers None for it);
- every ancestor's fields prefixed with the ancestor's element name (``PurchaseOrder.PONumber``);
- repeated children (lists) are not columns, as ``flatten_nested`` skips lists;
- XML attributes of a record, of a nested child and of the response are fields after the
  elements, as zeep orders them (Maximo's ``action`` on WOCHANGE, ``rsTotal`` on the response);
- an element of simple content with attributes (Maximo's ``MXStringType``: a value with a
  ``changed`` flag) is its value: the connector reads zeep's objects the same way.

A plan is made once per operation and records path from zeep's parsed WSDL. Shapes whose zeep
result the flattening rules above would not reproduce (choices, wildcards, wildcard attributes)
raise ``FastPathUnsupported`` with the reason, and the connector parses those with zeep instead.
The parse is hardened like zeep's: no DTD, no entity expansion, no network, comments dropped;
a DOCTYPE in a response is refused.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from lxml import etree

from connectors.records import _column as column_array

#: simple types whose values repeat a lot within a page (dates, stamps): memoised per column,
#: bounded so a column of unique stamps cannot grow the memo without limit
_MEMO_TYPES = ("Date", "DateTime", "Time", "Decimal", "Boolean")
_MEMO_LIMIT = 50_000
#: a zone-less xsd:dateTime without fractions, the form change stamps usually take
_PLAIN_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", re.ASCII)


class FastPathUnsupported(Exception):
    """The WSDL's types cannot guide the streaming parse; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ResponseIsFault(Exception):
    """The response body is a SOAP fault: zeep turns it into a ``zeep.exceptions.Fault``."""


# a converter is (text -> value); None means the text is the value (xsd:string and kin)
Converter = Callable[[str], Any] | None


@dataclass
class _Shape:
    """How one element on the records path reads into values: its fields in WSDL order.

    ``columns`` are slots, a superset of the row's keys: zeep answers None for a complex child
    without child elements, so that child is one key (``Ship``) in some records and its dotted
    fields (``Ship.City``) in others. Which one a record has is a bit in its signature.
    """

    tag: str
    name: str
    columns: list[str] = field(default_factory=list)
    #: child tag -> (slot, converter) for simple children
    simple: dict[str, tuple[int, Converter]] = field(default_factory=dict)
    #: attribute name -> (slot, converter) for the element's own attributes
    attributes: dict[str, tuple[int, Converter]] = field(default_factory=dict)
    #: slot -> the value zeep gives an absent attribute that has a default
    defaults: dict[int, Any] = field(default_factory=dict)
    #: child tag -> (signature bit, {grandchild tag: (slot, converter)}, {attribute: (slot, converter)})
    #: for single complex children
    nested: dict[str, tuple[int, dict[str, tuple[int, Converter]], dict[str, tuple[int, Converter]]]] = field(
        default_factory=dict)
    #: WSDL order: a simple child's slot, or a complex child's (bit, bare slot, dotted slots)
    layout: list[int | tuple[int, int, list[int]]] = field(default_factory=list)

    def slots(self, bits: int) -> list[int]:
        """The slots a record with signature ``bits`` has, in the order zeep's dict has them."""
        order: list[int] = []
        for entry in self.layout:
            if isinstance(entry, int):
                order.append(entry)
            else:
                bit, bare, dotted = entry
                if bits & bit:
                    order += dotted
                else:
                    order.append(bare)
        return order


@dataclass
class RecordPlan:
    """Everything the streaming parse needs for one operation and records path."""

    body_tag: str
    response_tag: str
    steps: list[_Shape]
    #: the response's own simple fields (``totalRows``, ``moreRows``) for paging decisions
    response_fields: dict[str, tuple[str, Converter]]
    #: the response element's attributes (Maximo's ``rsTotal``), also for paging decisions
    response_attributes: dict[str, tuple[str, Converter]] = field(default_factory=dict)
    #: the step whose records a page counts: the first that repeats (``salesorder`` in
    #: ``ReadMultiple_Result/salesorder``), else the first
    count_depth: int = 0

    def columns(self, signatures: list[tuple[int, ...]]) -> tuple[list[str], list[int]]:
        """Column names and row positions over records of these signatures, in first-seen order.

        Mirrors ``dicts_to_table``: the union of the records' keys in the order they first appear.
        Ancestors' fields come first, prefixed with the ancestor's name, then the record's own.
        """
        offsets, names = [], []
        for depth, shape in enumerate(self.steps):
            offsets.append(len(names))
            prefix = "" if depth == len(self.steps) - 1 else f"{shape.name}."
            names += [prefix + c for c in shape.columns]
        seen: dict[int, None] = {}
        for signature in signatures:
            for shape, offset, bits in zip(self.steps, offsets, signature):
                for slot in shape.slots(bits):
                    seen.setdefault(offset + slot, None)
        positions = list(seen)
        return [names[p] for p in positions], positions


@dataclass
class ParsedPage:
    """One response parsed: the rows as a table (None when empty) and what paging needs."""

    table: pa.Table | None
    rows: int
    #: records at the plan's counting step (what a page size limits)
    top_records: int
    response_values: dict[str, Any]
    #: the simple fields and attributes of the last counted record (bookmark-key paging reads it)
    last_record: dict[str, Any] = field(default_factory=dict)


def _plain_datetimes_first(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """zeep's xsd:dateTime conversion, with plain stamps (``2024-08-28T10:43:54``) read directly.

    For that form isodate and ``datetime.fromisoformat`` give the same naive datetime, the latter
    at a fraction of the cost; stamps are often unique per record, so the memo does not help them.
    Any other text, and any plain one that is not a valid moment, still goes to zeep.
    """

    def plain_first(text: str) -> Any:
        if len(text) == 19 and _PLAIN_DATETIME.fullmatch(text):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass
        return convert(text)

    return plain_first


def _converter(xsd_type) -> Converter:
    from zeep.xsd.types.builtins import DateTime, Integer, Long, String
    from zeep.xsd.types.builtins import Decimal as XsdDecimal

    pythonvalue = type(xsd_type).pythonvalue
    if pythonvalue is String.pythonvalue:
        return None
    if pythonvalue is Integer.pythonvalue or pythonvalue is Long.pythonvalue:
        return int  # zeep's own body for xsd:integer and its kin, minus a Python frame per value
    convert = xsd_type.pythonvalue
    if pythonvalue is DateTime.pythonvalue:
        convert = _plain_datetimes_first(convert)
    elif pythonvalue is XsdDecimal.pythonvalue:
        # zeep turns tabs and line ends into spaces and strips before Decimal(); Decimal() strips the
        # same whitespace itself and refuses what is left inside, so value and error are the same
        convert = Decimal
    if not any(base.__name__ in _MEMO_TYPES for base in type(xsd_type).__mro__):
        return convert
    memo: dict[str, Any] = {}

    def memoised(text: str) -> Any:
        try:
            return memo[text]
        except KeyError:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            value = memo[text] = convert(text)
            return value

    return memoised


def _check_complex(xsd_type, where: str) -> None:
    from zeep.xsd.elements import Any as AnyElement
    from zeep.xsd.elements.indicators import Choice, Group

    if any(not attribute.name for _, attribute in getattr(xsd_type, "attributes", [])):
        raise FastPathUnsupported(f"{where} has an xsd:anyAttribute wildcard")

    def walk(particle) -> None:
        if isinstance(particle, tuple):
            particle = particle[1]
        if isinstance(particle, Choice):
            raise FastPathUnsupported(f"{where} has an xsd:choice")
        if isinstance(particle, AnyElement):
            raise FastPathUnsupported(f"{where} has an xsd:any wildcard")
        if isinstance(particle, Group):
            walk(particle.child)
        elif isinstance(particle, list):
            for item in particle:
                walk(item)

    walk(list(xsd_type.elements_nested))


def _is_simple(xsd_type) -> bool:
    from zeep.xsd.types.simple import AnySimpleType

    return isinstance(xsd_type, AnySimpleType)


def simple_content_type(xsd_type):
    """The simple type of the value of an element of type ``xsd_type``: the type itself when simple,
    the base type of a complex type with simple content (a value with attributes, such as Maximo's
    ``MXStringType``), None for a type with child elements."""
    from zeep.xsd.elements import Element

    if _is_simple(xsd_type):
        return xsd_type
    content = getattr(xsd_type, "_element", None)
    if isinstance(content, Element) and _is_simple(content.type):
        return content.type
    return None


def _add_attributes(shape: _Shape, xsd_type, prefix: str, into: dict[str, tuple[int, Converter]],
                    slots: list[int]) -> None:
    """Slots for the attributes of ``xsd_type`` (after its elements, in zeep's order)."""
    for attribute_name, attribute in xsd_type.attributes:
        slot = len(shape.columns)
        into[attribute.qname.text] = (slot, _converter(attribute.type))
        if attribute.default_value is not None:
            shape.defaults[slot] = attribute.default_value  # zeep's value for an absent attribute
        slots.append(slot)
        shape.columns.append(prefix + attribute_name)


def _shape(element, name: str) -> _Shape:
    """The fields of ``element`` as flatten_nested reads them from zeep's objects."""
    where = f"element {name}"
    xsd_type = element.type
    if simple_content_type(xsd_type) is not None:
        raise FastPathUnsupported(f"{where} on the records path is a simple value, not a record")
    _check_complex(xsd_type, where)
    shape = _Shape(tag=element.qname.text, name=name)
    for child_name, child in xsd_type.elements:
        if child.max_occurs != 1:
            continue  # flatten_nested skips lists; a list may still be the next step
        value_type = simple_content_type(child.type)
        if value_type is not None:
            shape.simple[child.qname.text] = (len(shape.columns), _converter(value_type))
            shape.layout.append(len(shape.columns))
            shape.columns.append(child_name)
            continue
        _check_complex(child.type, f"element {child_name} in {name}")
        bit = 1 << len(shape.nested)
        bare = len(shape.columns)
        shape.columns.append(child_name)
        inner: dict[str, tuple[int, Converter]] = {}
        dotted: list[int] = []
        for sub_name, sub in child.type.elements:
            sub_type = simple_content_type(sub.type)
            if sub.max_occurs == 1 and sub_type is None:
                # zeep's None for it when empty would become a key of its own (``Ship.Geo``)
                raise FastPathUnsupported(f"element {child_name} in {name} holds the complex element {sub_name}")
            if sub.max_occurs == 1:
                inner[sub.qname.text] = (len(shape.columns), _converter(sub_type))
                dotted.append(len(shape.columns))
                shape.columns.append(f"{child_name}.{sub_name}")
        inner_attributes: dict[str, tuple[int, Converter]] = {}
        _add_attributes(shape, child.type, f"{child_name}.", inner_attributes, dotted)
        shape.nested[child.qname.text] = (bit, inner, inner_attributes)
        shape.layout.append((bit, bare, dotted))
    own: list[int] = []
    _add_attributes(shape, xsd_type, "", shape.attributes, own)
    shape.layout.extend(own)
    return shape


def plan_records(operation, records: str, envelope_namespace: str) -> RecordPlan:
    """The streaming plan for ``records`` (``A/B/C``) in the output of a zeep SOAP operation.

    Raises ``FastPathUnsupported`` naming the reason when the WSDL's types cannot guide the
    streaming parse to the rows zeep would give.
    """
    steps = [p for p in records.split("/") if p]
    if not steps:
        raise FastPathUnsupported("the records path is empty")
    output = getattr(operation, "output", None)
    body = getattr(output, "body", None)
    if body is None or not hasattr(body, "type"):
        raise FastPathUnsupported(f"operation {operation.name} has no document/literal output body")
    header = getattr(output, "header", None)
    if header is not None and getattr(header.type, "_element", None):
        raise FastPathUnsupported(f"operation {operation.name} returns SOAP headers")
    response_type = body.type
    if simple_content_type(response_type) is not None:
        raise FastPathUnsupported(f"operation {operation.name} returns a simple value")
    _check_complex(response_type, f"the response {body.qname.localname}")
    children = list(response_type.elements)

    response_fields = {child.qname.text: (name, _converter(simple_content_type(child.type)))
                       for name, child in children
                       if child.max_occurs == 1 and simple_content_type(child.type) is not None}
    response_attributes = {attribute.qname.text: (name, _converter(attribute.type))
                           for name, attribute in response_type.attributes}
    shapes: list[_Shape] = []
    count_depth = None
    parent_type, parent_name = response_type, body.qname.localname
    for depth, step in enumerate(steps):
        match = next((child for name, child in parent_type.elements if name == step), None)
        if match is None:
            raise FastPathUnsupported(f"the WSDL has no element {step} in {parent_name}")
        shapes.append(_shape(match, step))
        if count_depth is None and match.max_occurs != 1:
            count_depth = depth
        parent_type, parent_name = match.type, step
    return RecordPlan(body_tag=f"{{{envelope_namespace}}}Body", response_tag=body.qname.text, steps=shapes,
                      response_fields=response_fields, response_attributes=response_attributes,
                      count_depth=count_depth or 0)


def _read(element, shape: _Shape) -> tuple[list[Any], int]:
    """The element's slot values and its signature (which complex children have child elements)."""
    values: list[Any] = [None] * len(shape.columns)
    bits = 0
    simple, nested = shape.simple, shape.nested
    if shape.attributes:
        for slot, default in shape.defaults.items():
            values[slot] = default
        _read_attributes(element, shape.attributes, values)
    if not simple and not nested:
        return values, bits  # a container such as Lines: nothing of its own to read
    for child in element:
        tag = child.tag
        slot = simple.get(tag)
        if slot is not None:
            text = child.text
            if text is not None:
                index, convert = slot
                if convert is None:
                    values[index] = text
                else:
                    try:
                        values[index] = convert(text)
                    except (TypeError, ValueError):
                        # zeep logs and answers None for a value it cannot convert; so do we
                        values[index] = None
            continue
        complex_child = nested.get(tag)
        # zeep answers None for a complex child with neither child elements nor attributes
        if complex_child is None or not (len(child) or len(child.attrib)):
            continue
        bit, inner, inner_attributes = complex_child
        bits |= bit
        if inner_attributes:
            _read_attributes(child, inner_attributes, values)
        for grandchild in child:
            slot = inner.get(grandchild.tag)
            if slot is not None and grandchild.text is not None:
                index, convert = slot
                try:
                    values[index] = grandchild.text if convert is None else convert(grandchild.text)
                except (TypeError, ValueError):
                    values[index] = None
    return values, bits


def _read_attributes(element, attributes: dict[str, tuple[int, Converter]], values: list[Any]) -> None:
    for name, text in element.attrib.items():
        slot = attributes.get(name)
        if slot is not None:
            index, convert = slot
            try:
                values[index] = text if convert is None else convert(text)
            except (TypeError, ValueError):
                values[index] = None


@dataclass
class _Tally:
    """The records of a page at the plan's counting step: how many, and the last one's values."""

    depth: int
    count: int = 0
    last: tuple[_Shape, list[Any]] | None = None


def _collect(element, steps: list[_Shape], depth: int, context: tuple, signature: tuple,
             rows: list[tuple], signatures: list[tuple], tally: _Tally) -> None:
    shape = steps[depth]
    values, bits = _read(element, shape)
    if depth == tally.depth:
        tally.count += 1
        tally.last = (shape, values)
    if depth == len(steps) - 1:
        rows.append(context + tuple(values))
        signatures.append(signature + (bits,))
        return
    context, signature = context + tuple(values), signature + (bits,)
    next_tag = steps[depth + 1].tag
    for child in element:
        # zeep answers None for a record without child elements or attributes; flatten_nested skips it
        if child.tag == next_tag and (len(child) or len(child.attrib)):
            _collect(child, steps, depth + 1, context, signature, rows, signatures, tally)


def _refuse_doctype(content: bytes) -> None:
    root_at = content.find(b"Envelope")
    if b"<!DOCTYPE" in content[: root_at if root_at >= 0 else len(content)]:
        raise etree.XMLSyntaxError("a DOCTYPE is not allowed in a SOAP response", None, 0, 0)


def parse_response(plan: RecordPlan, content: bytes) -> ParsedPage:
    """Rows of one SOAP response body, streamed; raises ``ResponseIsFault`` for a fault body.

    Memory stays at one top-level record (a purchase order with its lines): each is cleared,
    with the siblings before it, once its rows are taken. A path that starts with single
    containers without fields of their own (Maximo's ``MXISWOCHANGESet``, NAV's inner
    ``ReadMultiple_Result``) streams by the records inside them instead.
    """
    _refuse_doctype(content)
    depth = plan.count_depth if not any(shape.columns for shape in plan.steps[:plan.count_depth]) else 0
    # the tags from the streamed record's parent up to the SOAP body
    ancestry = [shape.tag for shape in reversed(plan.steps[:depth])] + [plan.response_tag, plan.body_tag]
    context, signature = (), (0,) * depth
    rows: list[tuple] = []
    signatures: list[tuple] = []
    tally = _Tally(depth=plan.count_depth)
    response_tag, body_tag = plan.response_tag, plan.body_tag
    events = etree.iterparse(io.BytesIO(content), events=("end",), tag=plan.steps[depth].tag, remove_comments=True,
                             resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    for _, element in events:
        parent = element.getparent()
        # the same name deeper in a record is a field of that record, not a record of its own
        ancestor = parent
        for tag in ancestry:
            if ancestor is None or ancestor.tag != tag:
                break
            ancestor = ancestor.getparent()
        else:
            if len(element) or len(element.attrib):
                _collect(element, plan.steps, depth, context, signature, rows, signatures, tally)
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del parent[0]
    root = events.root
    if root is not None and root.getroottree().docinfo.doctype:
        # entities were never expanded, but a response that declares a DTD is refused outright
        raise etree.XMLSyntaxError("a DOCTYPE is not allowed in a SOAP response", None, 0, 0)
    body = root.find(body_tag) if root is not None else None
    first = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if first is None or first.tag != response_tag:
        if first is not None and etree.QName(first).localname == "Fault":
            raise ResponseIsFault()
        found = "nothing" if first is None else first.tag
        raise etree.XMLSyntaxError(f"expected {response_tag} in the SOAP body, found {found}", None, 0, 0)
    # the response's own fields and attributes (totals, more-pages flags, tokens) for paging
    given = [(plan.response_attributes.get(name), text) for name, text in first.attrib.items()]
    given += [(plan.response_fields.get(child.tag), child.text) for child in first if child.text is not None]
    response_values: dict[str, Any] = {}
    for slot, text in given:
        if slot is not None:
            field_name, convert = slot
            try:
                response_values[field_name] = text if convert is None else convert(text)
            except (TypeError, ValueError):
                response_values[field_name] = None
    table = None
    if rows:
        names, positions = plan.columns(list(dict.fromkeys(signatures)))
        slots = list(zip(*rows))
        del rows
        # the same per-column typing as rows_to_table and dicts_to_table, so types match zeep's path
        table = pa.table({name: column_array(list(slots[p])) for name, p in zip(names, positions)})
    last_record: dict[str, Any] = {}
    if tally.last is not None:
        shape, values = tally.last
        last_record = dict(zip(shape.columns, values))
    return ParsedPage(table=table, rows=len(signatures), top_records=tally.count, response_values=response_values,
                      last_record=last_record)

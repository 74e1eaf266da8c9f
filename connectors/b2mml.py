"""MESA B2MML (ISA-95) XML files from an MES outbox folder.

A stream names the records below the document root (``OperationsRequest/SegmentRequirement``).
Each record flattens into one row: its simple children by local name; a complex child made only
of simple leaves and without an ``ID`` dotted (``HierarchyScope.EquipmentID``,
``Quantity.QuantityString``); ID/Value pairs such as ``SegmentParameter`` pivoted into
``SegmentParameter.<ID>``; any other complex child (a nested record such as MaterialRequirement)
left to its own stream; and every ancestor record's columns prefixed with its name. ``_file``
names the file and orders incremental reads. Parsing never resolves entities, DTDs or the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from lxml import etree
from pydantic import Field

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel
from connectors.records import dicts_to_table, rebatch

B2MML_NAMESPACES = {
    "http://www.mesa.org/xml/B2MML": "V0701",
    "http://www.mesa.org/xml/B2MML-V0600": "V0600",
    "http://www.wbf.org/xml/B2MML-V0401": "V0401",
}


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and never touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True)


class B2mmlSettings(StrictModel):
    path: str = Field(description="folder the MES drops its B2MML files into")
    pattern: str = "*.xml"
    version: str = Field(default="V0701", description="B2MML version the files must be")
    site: str | None = None


class B2mmlStream(StreamSettings):
    records: str = Field(description="record path below the root, e.g. OperationsRequest/SegmentRequirement")
    bookmark: list[str] = Field(default_factory=lambda: ["_file"])


def _local(tag: Any) -> str:
    # "{namespace}Name" -> "Name"; comments and processing instructions have no string tag
    return tag[tag.rfind("}") + 1:] if isinstance(tag, str) else ""


def _text(element: etree._Element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def flatten_element(element: etree._Element, skip: str | None) -> dict[str, Any]:
    """One record element -> flat columns (see the module docstring).

    This runs once per element of every file, so it avoids helper calls and temporary lists.
    """
    row: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag[tag.rfind("}") + 1:]
        if name == skip:
            continue
        if not len(child):
            if name not in row:
                text = child.text
                row[name] = text.strip() or None if text else None
            continue
        by_name: dict[str, etree._Element] = {}
        has_complex = False
        for grandchild in child:
            grand_tag = grandchild.tag
            if isinstance(grand_tag, str):
                grand_name = grand_tag[grand_tag.rfind("}") + 1:]
                by_name.setdefault(grand_name, grandchild)
                if len(grandchild) and grand_name != "Value":
                    has_complex = True  # a nested record: no need to look further
                    break
        if not has_complex and "ID" in by_name and "Value" in by_name:
            value = by_name["Value"]
            value_string = next((v for v in value if _local(v.tag) == "ValueString"), None)
            row.setdefault(f"{name}.{_text(by_name['ID'])}", _text(value_string if value_string is not None else value))
        elif not has_complex and "ID" not in by_name:
            for leaf_name, leaf in by_name.items():
                row.setdefault(f"{name}.{leaf_name}", _text(leaf))
        # else: a record of its own (MaterialRequirement, PersonnelRequirement, ...): its own stream reads it
    return row


class B2mmlConnector(Connector):
    """Reads the records of one kind from every B2MML file in a folder, in file-name order."""

    settings_model = B2mmlSettings
    stream_model = B2mmlStream
    sparse_records = True

    def _files(self) -> list[Path]:
        folder = Path(self.settings.path)
        if not folder.is_dir():
            raise ConnectorError(f"{self.where()}: the folder {folder} does not exist; check connection.path")
        return sorted(p for p in folder.glob(self.settings.pattern) if p.is_file())

    def _parse(self, path: Path) -> etree._Element:
        try:
            root = etree.parse(str(path), hardened_parser()).getroot()
        except etree.XMLSyntaxError as exc:
            raise ConnectorError(f"{self.where()}: file {path.name} is not well-formed XML "
                                 f"(line {exc.lineno}): {exc.msg}; the file is not loaded") from None
        namespace = etree.QName(root).namespace
        version = B2MML_NAMESPACES.get(namespace or "")
        if version != self.settings.version:
            raise ConnectorError(
                f"{self.where()}: file {path.name} is B2MML {version or 'of an unknown version'} "
                f"(namespace {namespace!r}), but this source expects {self.settings.version}; "
                f"move it out of {self.settings.path} or configure a source for that version")
        return root

    def read(self, stream: B2mmlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        yield from rebatch(self._per_file(stream, bookmark), stream.batch_size)

    def _per_file(self, stream: B2mmlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """One table of records per file, files in name order from the bookmarked one on."""
        steps = [s for s in stream.records.split("/") if s]
        start = (bookmark or {}).get("_file")
        for path in self._files():
            if start is not None and path.name < start:
                continue
            rows = self._records(self._parse(path), steps, path.name)
            if rows:
                yield dicts_to_table(rows)

    @staticmethod
    def _records(root: etree._Element, steps: list[str], file_name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        root_columns = {f"{_local(root.tag)}.{k}": v for k, v in flatten_element(root, steps[0]).items()}

        def walk(parent: etree._Element, depth: int, context: dict[str, Any]) -> None:
            step = steps[depth]
            for element in parent:
                if _local(element.tag) != step:
                    continue
                skip = steps[depth + 1] if depth + 1 < len(steps) else None
                columns = flatten_element(element, skip)
                if skip is None:
                    out.append({**context, **columns, "_file": file_name})
                else:
                    walk(element, depth + 1, {**context, **{f"{step}.{k}": v for k, v in columns.items()}})

        walk(root, 0, root_columns)
        return out

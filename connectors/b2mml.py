"""MESA B2MML (ISA-95) XML files from an MES outbox folder.

A stream names the records below the document root (``OperationsRequest/SegmentRequirement``).
Each record flattens into one row: its simple children by local name; a complex child made only
of simple leaves and without an ``ID`` dotted (``HierarchyScope.EquipmentID``,
``Quantity.QuantityString``); ID/Value pairs such as ``SegmentParameter`` pivoted into
``SegmentParameter.<ID>``; any other complex child (a nested record such as MaterialRequirement)
left to its own stream; and every ancestor record's columns prefixed with its name. A simple
element that repeats (two ``MaterialLotID``) keeps every value, joined with ``|`` (the mapping's
``split`` transform takes them apart), never just the first. ``_file``
names the file and orders incremental reads. Parsing never resolves entities, DTDs or the network.

The folder is an inbox (connectors.inbox): a file that is malformed, of another B2MML version or
invalid against the configured XSD (``connection.schema``) is rejected whole with its reason, the
others load, and loaded files move to ``processed/``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from lxml import etree
from pydantic import Field

from connectors.base import ConnectorError, StreamSettings
from connectors.inbox import InboxConnector, InboxFile, InboxFileError, InboxSettings, ProcessedFile
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


class B2mmlSettings(InboxSettings):
    path: str = Field(description="folder the MES drops its B2MML files into")
    pattern: str = "*.xml"
    version: str = Field(default="V0701", description="B2MML version the files must be")
    schema_path: str | None = Field(
        default=None, alias="schema",
        description="B2MML XSD (e.g. Schema/AllSchemas.xsd) every file must be valid against; empty: not validated")
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
            text = child.text
            value = text.strip() or None if text else None
            if name not in row:
                row[name] = value
            elif value is not None:
                # a repeated element (two MaterialLotIDs): every value is kept, "|"-joined
                row[name] = value if row[name] is None else f"{row[name]}|{value}"
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
                column, value = f"{name}.{leaf_name}", _text(leaf)
                if column not in row:
                    row[column] = value
                elif value is not None:
                    row[column] = value if row[column] is None else f"{row[column]}|{value}"
        # else: a record of its own (MaterialRequirement, PersonnelRequirement, ...): its own stream reads it
    return row


class B2mmlConnector(InboxConnector):
    """Reads the records of one kind from every B2MML file in a folder, in file-name order.

    Each file is parsed (and validated against the XSD, when one is configured) once per run,
    whatever the number of streams reading it.
    """

    settings_model = B2mmlSettings
    stream_model = B2mmlStream
    sparse_records = True

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        self._schema: etree.XMLSchema | None = None
        #: the record paths of every stream of the run, read together (set by ``open_inbox``)
        self._run_paths: tuple[tuple[str, ...], ...] = ()

    def _xml_schema(self) -> etree.XMLSchema | None:
        if self.settings.schema_path is None:
            return None
        if self._schema is None:
            xsd = Path(self.settings.schema_path)
            if not xsd.is_file():
                raise ConnectorError(f"{self.where()}: the B2MML schema {xsd} does not exist; "
                                     f"check connection.schema (the XSD the files must be valid against)")
            try:
                self._schema = etree.XMLSchema(etree.parse(str(xsd), etree.XMLParser(no_network=True)))
            except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
                raise ConnectorError(f"{self.where()}: the B2MML schema {xsd} cannot be used: {exc}; "
                                     f"check connection.schema") from None
        return self._schema

    def _load(self, path: Path) -> etree._Element:
        """Parse, check the version and validate one file; :class:`InboxFileError` says what is wrong."""
        try:
            tree = etree.parse(str(path), hardened_parser())
        except etree.XMLSyntaxError as exc:
            raise InboxFileError(path.name, f"it is not well-formed XML: {exc.msg}",
                                 "fix the XML (or ask the MES to send the file again)", line=exc.lineno) from None
        root = tree.getroot()
        namespace = etree.QName(root).namespace
        version = B2MML_NAMESPACES.get(namespace or "")
        if version != self.settings.version:
            raise InboxFileError(
                path.name, f"it is B2MML {version or 'of an unknown version'} (namespace {namespace!r}), "
                           f"but this source expects {self.settings.version}",
                f"move it out of {self.settings.path} or configure a source for that version")
        schema = self._xml_schema()
        if schema is not None and not schema.validate(tree):
            errors = list(schema.error_log)
            first = "; ".join(f"line {e.line}: {e.message}" for e in errors[:5])
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise InboxFileError(
                path.name, f"it is not valid against {Path(self.settings.schema_path).name}: {first}{more}",
                "correct the listed elements at the MES (or in the file) and drop it again", line=errors[0].line)
        return root

    def open_inbox(self, streams: Sequence[StreamSettings], needs: Mapping[str, Collection[str]],
                   processed: Mapping[str, ProcessedFile]) -> list[InboxFile]:
        """Snapshot and judge the inbox (connectors.inbox); every stream of the run is read in one walk."""
        self._run_paths = tuple(sorted({_steps(s) for s in streams}))
        return super().open_inbox(streams, needs, processed)

    def check_file(self, path: Path, streams: Sequence[tuple[StreamSettings, Collection[str]]]) -> None:
        """A file is loadable when it parses, is of the configured version and valid against the XSD.

        Judging it also reads its records for every stream of the run, kept (within ``cache_mb``)
        as Arrow tables, so that no stream parses the file again.
        """
        self._tables(path, self._run_paths)

    def _tables(self, path: Path, paths: tuple[tuple[str, ...], ...]) -> dict[tuple[str, ...], pa.Table | None]:
        """The records of ``path`` for each record path, one table each (None: no such records)."""
        def build(file: Path) -> dict[tuple[str, ...], pa.Table | None]:
            records = records_by_path(self._load(file), paths, file.name)
            return {steps: dicts_to_table(rows) if rows else None for steps, rows in records.items()}

        def held(tables: dict[tuple[str, ...], pa.Table | None]) -> int:
            return sum(t.nbytes for t in tables.values() if t is not None)

        return self.cached(path, "|".join("/".join(p) for p in paths), build, held)

    def read(self, stream: B2mmlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        yield from rebatch(self._per_file(stream, bookmark), stream.batch_size)

    def _per_file(self, stream: B2mmlStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """One table of records per file, in name order (see connectors.inbox for which files)."""
        steps = _steps(stream)
        # in a run, every stream's records come from the one walk the inbox check made; outside a
        # run (a single read), only this stream's
        paths = self._run_paths if self.inbox_is_open and steps in self._run_paths else (steps,)
        for path in self.files_to_read(stream, (bookmark or {}).get("_file")):
            try:
                table = self._tables(path, paths)[steps]
            except InboxFileError as exc:
                raise ConnectorError(f"{self.where()}: {exc}; the file is not loaded") from None
            if table is not None:
                yield table


def _steps(stream: StreamSettings) -> tuple[str, ...]:
    return tuple(s for s in stream.records.split("/") if s)


def records_by_path(root: etree._Element, paths: Sequence[tuple[str, ...]], file_name: str
                    ) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """The records of every record path (``("OperationsRequest", "SegmentRequirement")``), in document
    order, from one walk of the tree: each element on a path is flattened once and its columns serve
    as its own record and as the prefixed context of the records below it."""
    out: dict[tuple[str, ...], list[dict[str, Any]]] = {steps: [] for steps in paths}
    trie: dict[Any, Any] = {}
    for steps in paths:
        node = trie
        for step in steps:
            node = node.setdefault(step, {})
        node[None] = steps  # a record path ends here

    def below(columns: dict[str, Any], prefix: str, step: str) -> dict[str, Any]:
        # the columns an ancestor gives the records under ``step``: all but ``step``'s own
        # (the same columns as flattening the ancestor with ``step`` skipped)
        nested = step + "."
        return {f"{prefix}.{k}": v for k, v in columns.items() if k != step and not k.startswith(nested)}

    def walk(parent: etree._Element, node: dict[Any, Any], context: dict[str, Any]) -> None:
        for element in parent:
            tag = element.tag
            if not isinstance(tag, str):
                continue
            name = tag[tag.rfind("}") + 1:]
            child = node.get(name)
            if child is None:
                continue
            columns = flatten_element(element, None)
            if None in child:
                out[child[None]].append({**context, **columns, "_file": file_name})
            for step, grandchild in child.items():
                if step is not None:
                    walk(element, {step: grandchild}, {**context, **below(columns, name, step)})

    root_columns = flatten_element(root, None)
    root_name = _local(root.tag)
    for step, node in trie.items():
        walk(root, {step: node}, below(root_columns, root_name, step))
    return out

"""Canonical frames as the rules read them, and the WO-to-PO-line links every rule shares.

The rules receive one DataFrame per canonical entity. ``CanonicalFrames`` hands each of them out
with every canonical column present and typed the same way (text as Arrow-backed strings with blank
values as NA, decimals as float64, dates as datetime64, flags as nullable booleans), so merges
between entities from different sources line up. Missing or empty entities become empty frames
with the right columns.

It also resolves, once per run, which PO lines each work order and operation is linked to. A link
can be asserted from four places: the PO line's ``wo_ref``/``op_ref``, the work order's
``po_ref``/``po_line_ref``, the operation's ``po_ref``/``po_line_ref`` and a ``wo_po_link`` row that is
asserted or confirmed. Matching is by site across all sources of the site. A reference without a line
number names the whole PO: every line of that PO satisfies (and is linked by) it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mappings.canonical import ENTITIES, entity

TEXT = pd.StringDtype("pyarrow")
#: dates are compared and merged across entities, so they share one unit
DATE = "datetime64[us]"
_DTYPES = {
    "text": TEXT,
    "int": "Int64",
    "decimal": "float64",
    "date": DATE,
    "datetime": DATE,
    "bool": "boolean",
}
_LINEAGE_TYPES = {"source_system": "text", "source_key": "text", "run_id": "text",
                  "extracted_at": "datetime", "record_hash": "text"}
#: the lineage a rule needs to name its subject; the rest may be absent from a frame
_REQUIRED_LINEAGE = ("source_system", "source_key")

#: link statuses of wo_po_link rows that count as a link (suggested and rejected do not)
ACTIVE_LINK_STATUSES = ("asserted", "confirmed")

PO_LINE_KEY = ["site", "po_number", "line_number"]
PO_KEY = ["site", "po_number"]
WO_KEY = ["site", "wo_number"]
OP_KEY = ["site", "wo_number", "op_seq"]


def column_types(entity_name: str) -> dict[str, str]:
    """Canonical type of every column of an entity's frame, lineage included."""
    types = {f.name: f.type for f in entity(entity_name).fields}
    types.update(_LINEAGE_TYPES)
    return types


def empty_frame(entity_name: str) -> pd.DataFrame:
    """An empty frame with every column of the entity (and lineage), typed as the engine reads them."""
    return pd.DataFrame({name: pd.Series(dtype=_DTYPES[type_]) for name, type_ in column_types(entity_name).items()})


def blank_to_na(values: pd.Series) -> pd.Series:
    """Text with blank and all-space values turned into NA: an empty reference is no reference."""
    blank = (values.str.strip() == "").fillna(False).astype(bool)
    return values.mask(blank) if blank.any() else values


def flag(values: pd.Series) -> pd.Series:
    """A nullable flag as plain bool where NA (unknown) counts as not set."""
    return values.fillna(False).astype(bool)


def _coerce(values: pd.Series, type_: str, where: str) -> pd.Series:
    dtype = _DTYPES[type_]
    try:
        if type_ == "text":
            return blank_to_na(values.astype(TEXT))
        if type_ == "decimal":
            if values.dtype == "float64":
                return values
            return pd.to_numeric(values, errors="raise").astype("float64")
        if type_ == "int":
            return values.astype("Int64")
        if type_ == "bool":
            return values if values.dtype == "boolean" else values.astype("boolean")
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert(None)
        elif not pd.api.types.is_datetime64_dtype(values.dtype):
            values = pd.to_datetime(values, errors="raise")
        values = values.astype(dtype)
        return values.dt.normalize() if type_ == "date" else values
    except (TypeError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        raise ValueError(
            f"canonical frame {where}: cannot read the column as {type_} ({exc}); "
            f"check the mapping spec that fills it"
        ) from exc


def canonical_frame(frame: pd.DataFrame | None, entity_name: str) -> pd.DataFrame:
    """The entity's frame with every canonical column typed as the engine reads it.

    ``None`` or a frame without rows becomes an empty frame. A frame with rows must carry every
    field of the entity plus ``source_system`` and ``source_key``; columns beyond those are dropped.
    """
    if frame is None or len(frame) == 0:
        return empty_frame(entity_name)
    types = column_types(entity_name)
    missing = [name for name in (*entity(entity_name).field_names, *_REQUIRED_LINEAGE) if name not in frame.columns]
    if missing:
        raise ValueError(
            f"canonical frame {entity_name!r} lacks the column(s) {', '.join(missing)}; every canonical "
            f"frame carries all fields of mappings/canonical.py plus lineage: check the mapping or load step"
        )
    columns = {}
    for name, type_ in types.items():
        if name in frame.columns:
            columns[name] = _coerce(frame[name], type_, f"{entity_name}.{name}")
        else:
            columns[name] = pd.Series(index=frame.index, dtype=_DTYPES[type_])
    return pd.DataFrame(columns).reset_index(drop=True)


def frame_from_rows(entity_name: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A typed canonical frame from plain records; columns a record leaves out are NA.

    For fixtures and small hand-made inputs. A key that is not a column of the entity is refused,
    so a misspelt field cannot silently become an empty one.
    """
    rows = list(rows)
    known = set(column_types(entity_name))
    unknown = sorted({key for row in rows for key in row} - known)
    if unknown:
        raise ValueError(
            f"rows for {entity_name!r} have unknown column(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    if not rows:
        return empty_frame(entity_name)
    # object columns keep 4711 an integer, so it reads as "4711" and not "4711.0"
    raw = pd.DataFrame({name: pd.Series([row.get(name) for row in rows], dtype=object) for name in column_types(entity_name)})
    return canonical_frame(raw, entity_name)


def _json_default(value: Any) -> Any:
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def to_json(value: Any) -> str:
    """Evidence as compact JSON: dates as ISO text, NA as null, numpy scalars as plain numbers."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)


def records(frame: pd.DataFrame, entity_name: str, fields: Iterable[str]) -> list[dict[str, Any]]:
    """One evidence record per row: the entity, its lineage key and the named fields, JSON-ready."""
    fields = [f for f in fields if f not in ("source_system", "source_key")]
    subset = frame[["source_system", "source_key", *fields]].copy()
    for name in subset.columns:
        column = subset[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            subset[name] = column.dt.strftime("%Y-%m-%d")
        elif column.dtype == "float64":
            subset[name] = column.round(6)
    plain = subset.astype(object).where(subset.notna(), None)
    return [{"entity": entity_name, **row} for row in plain.to_dict("records")]


def keys_in(left: pd.DataFrame, right: pd.DataFrame, left_on: list[str], right_on: list[str] | None = None) -> pd.Series:
    """Whether each row of ``left`` has its key in ``right``; a key with an NA part matches nothing."""
    right_on = right_on or left_on
    present = right[right_on].dropna().drop_duplicates()
    present.columns = left_on
    marked = left[left_on].merge(present.assign(_hit=True), how="left", on=left_on)["_hit"]
    result = marked.fillna(False).astype(bool).to_numpy() & left[left_on].notna().all(axis=1).to_numpy()
    return pd.Series(result, index=left.index)


class CanonicalFrames:
    """Typed canonical frames for one reconcile run, with the derived look-ups the rules share."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]):
        unknown = sorted(set(frames) - set(ENTITIES))
        if unknown:
            raise ValueError(
                f"reconcile received frames for unknown entities {unknown}; valid: {', '.join(ENTITIES)}"
            )
        self._raw = frames
        self._typed: dict[str, pd.DataFrame] = {}

    def __getitem__(self, entity_name: str) -> pd.DataFrame:
        if entity_name not in self._typed:
            self._typed[entity_name] = canonical_frame(self._raw.get(entity_name), entity(entity_name).name)
        return self._typed[entity_name]

    @cached_property
    def po_lines(self) -> pd.DataFrame:
        """PO lines with their effective currency: the line's own, else the header's (same site and PO)."""
        lines = self["po_line"]
        headers = self["purchase_order"].dropna(subset=PO_KEY).drop_duplicates(PO_KEY)
        headers = headers[[*PO_KEY, "currency", "order_date"]].rename(
            columns={"currency": "header_currency", "order_date": "header_order_date"}
        )
        merged = lines.merge(headers, how="left", on=PO_KEY)
        merged["effective_currency"] = merged["currency"].fillna(merged["header_currency"])
        return merged

    @cached_property
    def link_assertions(self) -> pd.DataFrame:
        """Every assertion that a WO (operation) and a PO (line) belong together, from any side.

        Columns: site, wo_number, op_seq (NA: the whole WO), po_number, line_number (NA: any line of
        the PO), via (the entity that asserts it) and the asserting row's source_system/source_key.
        """
        parts = []
        lines = self["po_line"]
        from_po = lines[lines["wo_ref"].notna()]
        parts.append(pd.DataFrame({
            "site": from_po["site"], "wo_number": from_po["wo_ref"], "op_seq": from_po["op_ref"],
            "po_number": from_po["po_number"], "line_number": from_po["line_number"], "via": "po_line",
            "source_system": from_po["source_system"], "source_key": from_po["source_key"],
        }))
        for name, op_column in (("work_order", None), ("wo_operation", "op_seq")):
            rows = self[name]
            rows = rows[rows["po_ref"].notna()]
            parts.append(pd.DataFrame({
                "site": rows["site"], "wo_number": rows["wo_number"],
                "op_seq": rows[op_column] if op_column else pd.Series(pd.NA, index=rows.index, dtype=TEXT),
                "po_number": rows["po_ref"], "line_number": rows["po_line_ref"], "via": name,
                "source_system": rows["source_system"], "source_key": rows["source_key"],
            }))
        links = self["wo_po_link"]
        links = links[links["status"].isin(ACTIVE_LINK_STATUSES)]
        parts.append(pd.DataFrame({
            "site": links["site"], "wo_number": links["wo_number"], "op_seq": links["op_seq"],
            "po_number": links["po_number"], "line_number": links["line_number"], "via": "wo_po_link",
            "source_system": links["source_system"], "source_key": links["source_key"],
        }))
        out = pd.concat(parts, ignore_index=True)
        for column in ("site", "wo_number", "op_seq", "po_number", "line_number", "via", "source_system", "source_key"):
            out[column] = out[column].astype(TEXT)
        return out

    @cached_property
    def resolved_links(self) -> pd.DataFrame:
        """Assertions joined to the existing PO lines they name (one row per assertion and PO line).

        Columns: site, wo_number, op_seq, via, po_number, line_number and the PO line's
        ``po_source_system``/``po_source_key``. Assertions naming no existing line are absent.
        """
        assertions = self.link_assertions
        lines = self["po_line"][[*PO_LINE_KEY, "source_system", "source_key"]].dropna(subset=PO_LINE_KEY)
        lines = lines.rename(columns={"source_system": "po_source_system", "source_key": "po_source_key"})
        keep = ["site", "wo_number", "op_seq", "via", "po_number", "line_number", "po_source_system", "po_source_key"]
        by_line = assertions[assertions["line_number"].notna()].merge(lines, how="inner", on=PO_LINE_KEY)
        whole_po = assertions[assertions["line_number"].isna()].drop(columns="line_number")
        by_po = whole_po.merge(lines, how="inner", on=PO_KEY)
        return pd.concat([by_line[keep], by_po[keep]], ignore_index=True)

    def assertion_resolves(self, assertions: pd.DataFrame) -> pd.Series:
        """Whether each (site, po_number, line_number) reference names an existing PO line.

        An NA line number names the whole PO, which any of its lines satisfies.
        """
        lines = self["po_line"]
        with_line = assertions["line_number"].notna()
        by_line = keys_in(assertions, lines, PO_LINE_KEY)
        by_po = keys_in(assertions, lines, PO_KEY)
        return by_line.where(with_line, by_po)

    @cached_property
    def op_links(self) -> pd.DataFrame:
        """Operation-level links to existing PO lines, deduplicated per operation and PO line.

        These are the links that make a PO line an operation's: the PO line naming the operation,
        the operation naming the PO line, or an asserted/confirmed wo_po_link for the operation. A
        work order naming a PO does not link it to any particular operation.
        """
        links = self.resolved_links
        links = links[links["op_seq"].notna() & (links["via"] != "work_order")]
        return links.drop_duplicates([*OP_KEY, "po_source_system", "po_source_key"]).reset_index(drop=True)


def describe_po_line(po_number: Any, line_number: Any) -> str:
    """'PO 4711 line 2', or 'PO 4711' when the reference names no line."""
    return f"PO {po_number}" if _missing(line_number) else f"PO {po_number} line {line_number}"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def text(value: Any, empty: str = "") -> str:
    """A value as text for a summary sentence; NA becomes ``empty``."""
    if _missing(value) or value is pd.NaT:
        return empty
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def grouped_records(
    frame: pd.DataFrame, key: list[str], entity_name: str, fields: Iterable[str], limit: int = 20
) -> dict[tuple, list[dict[str, Any]]]:
    """Evidence records of ``frame`` grouped by ``key`` (at most ``limit`` per key, in frame order).

    Used to attach the related rows of another system to a finding; filter ``frame`` to the keys
    that matter first, since every row passed becomes a record.
    """
    grouped: dict[tuple, list[dict[str, Any]]] = {}
    if frame.empty:
        return grouped
    keys = zip(*(frame[k].astype(object).where(frame[k].notna(), None) for k in key))
    for key_value, record in zip(keys, records(frame, entity_name, fields)):
        bucket = grouped.setdefault(key_value, [])
        if len(bucket) < limit:
            bucket.append(record)
    return grouped


def numeric_order(values: pd.Series) -> pd.Series:
    """Sort key putting "9" before "10" for operation and line numbers kept as text."""
    return values.str.zfill(12)


def key_tuples(frame: pd.DataFrame, key: list[str]) -> list[tuple]:
    """The rows' keys as tuples with NA as None, to look up ``grouped_records``."""
    return list(zip(*(frame[k].astype(object).where(frame[k].notna(), None) for k in key)))

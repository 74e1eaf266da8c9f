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
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mappings.canonical import ENTITIES, entity
from mappings.transforms import blank_mask

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
#: lineage that rules and the roll-up never read (a finding names its subject by system and key)
_UNREAD_LINEAGE = ("run_id", "extracted_at", "record_hash")

#: link statuses of wo_po_link rows that count as a link (suggested and rejected do not)
ACTIVE_LINK_STATUSES = ("asserted", "confirmed")

PO_LINE_KEY = ["site", "po_number", "line_number"]
PO_KEY = ["site", "po_number"]
WO_KEY = ["site", "wo_number"]
OP_KEY = ["site", "wo_number", "op_seq"]

#: Integer key codes attached to each entity's typed frame: code column -> the key columns it encodes.
#: Rules join on these instead of on several text columns: one int64 column hashes and compares many
#: times faster than three Arrow strings. Equal keys get equal codes in every entity (the columns of one
#: kind share one dictionary, see ``_KEY_DOMAIN``); a key with an NA part gets -1, which joins nothing
#: once rules drop it (``known``). ``_k_ref_*`` codes encode what a row names, whether it exists or not.
KEY_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "work_order": {"_k_wo": ("site", "wo_number"), "_k_ref_po": ("site", "po_ref"),
                   "_k_ref_line": ("site", "po_ref", "po_line_ref")},
    "wo_operation": {"_k_wo": ("site", "wo_number"), "_k_op": ("site", "wo_number", "op_seq"),
                     "_k_ref_po": ("site", "po_ref"), "_k_ref_line": ("site", "po_ref", "po_line_ref")},
    "purchase_order": {"_k_po": ("site", "po_number")},
    "po_line": {"_k_po": ("site", "po_number"), "_k_line": ("site", "po_number", "line_number"),
                "_k_ref_wo": ("site", "wo_ref"), "_k_ref_op": ("site", "wo_ref", "op_ref")},
    "receipt": {"_k_po": ("site", "po_number"), "_k_line": ("site", "po_number", "line_number")},
    "invoice_line": {"_k_po": ("site", "po_number"), "_k_line": ("site", "po_number", "line_number")},
    "material_issue": {"_k_wo": ("site", "wo_number"), "_k_op": ("site", "wo_number", "op_seq"),
                       "_k_ref_po": ("site", "po_ref"), "_k_ref_line": ("site", "po_ref", "po_line_ref")},
    "labour_entry": {"_k_wo": ("site", "wo_number"), "_k_op": ("site", "wo_number", "op_seq")},
    "wo_po_link": {"_k_wo": ("site", "wo_number"), "_k_op": ("site", "wo_number", "op_seq"),
                   "_k_po": ("site", "po_number"), "_k_line": ("site", "po_number", "line_number")},
}
#: the kind of value each key column holds; the columns of one kind share one dictionary
_KEY_DOMAIN = {"site": "site", "wo_number": "wo", "wo_ref": "wo", "op_seq": "op", "op_ref": "op",
               "po_number": "po", "po_ref": "po", "line_number": "line", "po_line_ref": "line"}
#: a code that joins nothing: some part of the key is NA
NO_KEY = -1


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
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arrow = values.array._pa_array  # noqa: SLF001 - the Arrow data behind the pandas array
        if arrow.null_count == len(arrow):
            return values
        blank = blank_mask(arrow)
        if not blank.any():
            return values
        return values.mask(blank)
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
        if type_ == "date":
            # a date column usually holds midnights already: normalising would copy it for nothing
            ticks = values.to_numpy().view(np.int64)
            if np.any((ticks % 86_400_000_000 != 0) & (ticks != np.iinfo(np.int64).min)):
                return values.dt.normalize()
        return values
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
    # already-typed columns are taken as they are, not copied: the frames of a plant are large
    return pd.DataFrame(columns, copy=False).reset_index(drop=True)


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


def known(codes: pd.Series | np.ndarray) -> np.ndarray:
    """Which key codes name a whole key (no NA part), as a boolean array."""
    return np.asarray(codes) != NO_KEY


def codes_in(left: pd.Series | np.ndarray, right: pd.Series | np.ndarray) -> np.ndarray:
    """Whether each key code of ``left`` occurs in ``right``; ``NO_KEY`` is never found."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    if not len(right) or not len(left):
        return np.zeros(len(left), dtype=bool)
    # a hash look-up: numpy's sort-based isin and unique are several times slower at a million keys
    return pd.Series(left, copy=False).isin(right).to_numpy() & (left != NO_KEY)


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text column of a typed frame."""
    array = values.array
    if hasattr(array, "_pa_array"):
        data = array._pa_array  # noqa: SLF001 - zero-copy view of the Arrow-backed pandas array
        data = data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])
    else:
        data = pa.chunked_array([pa.array(values.astype(object).where(values.notna(), None), type=pa.large_string())])
    # one string type for every column, so the columns of a kind share a dictionary
    return data if data.type == pa.large_string() else data.cast(pa.large_string())


def _domain_codes(columns: list[pa.ChunkedArray]) -> tuple[list[np.ndarray], int]:
    """Codes of the values of several text columns of one kind, from one shared dictionary.

    The columns are encoded as one array, so each value is hashed once; NA becomes ``NO_KEY``.
    Returns the codes per column and the size of the dictionary.
    """
    lengths = [len(c) for c in columns]
    if not sum(lengths):
        return [np.empty(0, dtype=np.int64) for _ in columns], 0
    # one chunked array over the columns' own buffers (no copy of the strings): Arrow encodes the
    # chunks with one hash table, so every chunk's indices refer to the same final dictionary
    joined = pa.chunked_array([chunk for column in columns for chunk in column.chunks], type=pa.large_string())
    encoded = joined.dictionary_encode()
    codes = np.empty(sum(lengths), dtype=np.int64)
    at = 0
    for chunk in encoded.chunks:
        codes[at:at + len(chunk)] = pc.fill_null(chunk.indices, NO_KEY).to_numpy()
        at += len(chunk)
    size = len(encoded.chunks[0].dictionary) if encoded.num_chunks else 0
    bounds = np.cumsum([0, *lengths])
    return [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])], size


def _encode_keys(typed: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, np.ndarray]]:
    """The ``KEY_CODES`` columns of every entity, with one dictionary per kind of key value."""
    wanted = {(name, column) for name, codes in KEY_CODES.items() for parts in codes.values() for column in parts}
    by_domain: dict[str, list[tuple[str, str]]] = {}
    for name, column in sorted(wanted):
        by_domain.setdefault(_KEY_DOMAIN[column], []).append((name, column))

    def encode(domain: str) -> tuple[str, list[np.ndarray], int]:
        members = by_domain[domain]
        codes, size = _domain_codes([_arrow(typed[name][column]) for name, column in members])
        return domain, codes, size

    parts: dict[tuple[str, str], np.ndarray] = {}
    sizes: dict[str, int] = {}
    # Arrow hashes outside the GIL: the large kinds (work orders, POs) encode side by side
    with ThreadPoolExecutor(max_workers=2) as pool:
        for domain, codes, size in pool.map(encode, sorted(by_domain, key=lambda d: -len(by_domain[d]))):
            sizes[domain] = size
            parts.update(zip(by_domain[domain], codes))

    out: dict[str, dict[str, np.ndarray]] = {}
    for name, codes in KEY_CODES.items():
        rows = len(typed[name])
        out[name] = {}
        for code_column, columns in codes.items():
            code = np.zeros(rows, dtype=np.int64)
            missing = np.zeros(rows, dtype=bool)
            for column in columns:
                part = parts[(name, column)]
                # in place: at millions of rows every temporary array costs more than the arithmetic
                np.multiply(code, max(sizes[_KEY_DOMAIN[column]], 1), out=code)
                np.add(code, part, out=code)
                missing |= part == NO_KEY
            code[missing] = NO_KEY
            out[name][code_column] = code
    return out


class CanonicalFrames:
    """Typed canonical frames for one reconcile run, with the derived look-ups the rules share.

    Each frame comes with its ``KEY_CODES`` columns (``_k_wo``, ``_k_op``, ``_k_po``, ``_k_line`` and
    the ``_k_ref_*`` codes of what a row names), so rules can join and test membership on integers.
    """

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
            if entity_name in KEY_CODES:
                self._type_keyed_entities()
            else:
                self._typed[entity_name] = self._typed_frame(entity_name)
        return self._typed[entity_name]

    def _typed_frame(self, entity_name: str) -> pd.DataFrame:
        """The entity's canonical frame without the lineage no rule reads: every row filter and take
        of a wide frame copies each of its columns, so columns nobody reads are not carried."""
        frame = canonical_frame(self._raw.get(entity_name), entity(entity_name).name)
        return frame.drop(columns=[c for c in _UNREAD_LINEAGE if c in frame.columns])

    def _type_keyed_entities(self) -> None:
        """Type every entity that carries key codes, then attach the codes (they share dictionaries)."""
        typed = {name: self._typed_frame(name) for name in KEY_CODES}
        for name, codes in _encode_keys(typed).items():
            frame = typed[name]
            for column, values in codes.items():
                frame[column] = values
            self._typed[name] = frame

    @cached_property
    def po_lines(self) -> pd.DataFrame:
        """PO lines with their effective currency: the line's own, else the header's (same site and PO);
        also ``header_currency`` and ``header_order_date`` from the header."""
        lines = self["po_line"]
        headers = self["purchase_order"]
        header_row = self.at_first_row("purchase_order", "_k_po", lines["_k_po"])

        def from_header(column: str) -> pd.Series:
            # -1 (no header) reads as missing
            return pd.Series(headers[column].array.take(header_row, allow_fill=True), index=lines.index)

        currency = from_header("currency")
        return lines.assign(header_currency=currency, header_order_date=from_header("order_date"),
                            effective_currency=lines["currency"].fillna(currency))

    @cached_property
    def line_totals(self) -> pd.DataFrame:
        """Received and invoiced quantity per PO line key (site, PO, line), in the line's unit.

        One row per known ``_k_line`` (the first PO line of that key gives the unit, item, price and
        currency). Received: the receipts converted to the line's unit, or the line's own
        ``qty_received`` when that is larger (some ERPs keep only the latter); a receipt in a unit
        without a conversion makes it unknown (NaN). Invoiced: the invoice lines' quantities; one
        without a quantity counts its amount at the line's unit price when it is in the line's
        currency, else the invoiced quantity is unknown (NaN). Unknown is never read as enough. Also
        the number of receipts and invoices and the first and last receipt date of a positive quantity.
        """
        from reconciliation.costs import uom_factors  # the conversion rules live with the roll-up

        # only the columns read below: the PO line frame is wide
        lines = self.po_lines[["_k_line", "uom", "item_number", "qty_received", "unit_price", "effective_currency"]]
        first = lines[known(lines["_k_line"])].drop_duplicates("_k_line").reset_index(drop=True)
        count = len(first)
        index = pd.Index(first["_k_line"])

        receipts = self["receipt"]
        at = index.get_indexer(receipts["_k_line"])
        mine = at >= 0
        r_at = at[mine]
        qty = receipts["qty"].to_numpy(dtype="float64", na_value=np.nan)[mine]
        factor = uom_factors(receipts["uom"][mine].reset_index(drop=True),
                             first["uom"].take(r_at).reset_index(drop=True),
                             first["item_number"].take(r_at).reset_index(drop=True), self["uom_conversion"])
        received_each = np.nan_to_num(qty, nan=0.0) * factor.to_numpy(dtype="float64")
        received = np.bincount(r_at, weights=np.nan_to_num(received_each, nan=0.0), minlength=count).astype("float64")
        received[np.bincount(r_at, weights=np.isnan(received_each), minlength=count) > 0] = np.nan
        receipt_count = np.bincount(r_at, minlength=count)
        dates = receipts["receipt_date"].to_numpy()[mine]
        positive = (qty > 0) & ~np.isnat(dates)
        # earliest and latest dated receipt of a positive quantity per line, on the dates' integer ticks
        # (NaT is the smallest int64, so it stays in place where a line has none)
        ticks = dates[positive].astype(DATE).view(np.int64)
        first_ticks = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_ticks, r_at[positive], ticks)
        first_ticks[first_ticks == np.iinfo(np.int64).max] = np.iinfo(np.int64).min
        last_ticks = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last_ticks, r_at[positive], ticks)
        own = first["qty_received"].to_numpy(dtype="float64", na_value=np.nan)
        received = np.where(own > received, own, received)  # NaN (unknown) compares False and stays

        invoices = self["invoice_line"]
        at = index.get_indexer(invoices["_k_line"])
        mine = at >= 0
        i_at = at[mine]
        unit_price = first["unit_price"].to_numpy(dtype="float64", na_value=np.nan)[i_at]
        same_currency = (invoices["currency"][mine].reset_index(drop=True)
                         == first["effective_currency"].take(i_at).reset_index(drop=True))
        same_currency = same_currency.fillna(False).to_numpy(dtype=bool)
        amount = invoices["amount"].to_numpy(dtype="float64", na_value=np.nan)[mine]
        with np.errstate(divide="ignore", invalid="ignore"):
            by_amount = np.where(same_currency & (unit_price > 0), amount / unit_price, np.nan)
        invoiced_qty = invoices["qty"].to_numpy(dtype="float64", na_value=np.nan)[mine]
        invoiced_each = np.where(np.isnan(invoiced_qty), by_amount, invoiced_qty)
        invoiced = np.bincount(i_at, weights=np.nan_to_num(invoiced_each, nan=0.0), minlength=count).astype("float64")
        invoiced[np.bincount(i_at, weights=np.isnan(invoiced_each), minlength=count) > 0] = np.nan

        return pd.DataFrame({
            "_k_line": first["_k_line"].to_numpy(), "received": received, "invoiced": invoiced,
            "receipts": receipt_count, "invoices": np.bincount(i_at, minlength=count),
            "first_receipt_date": first_ticks.view(DATE), "last_receipt_date": last_ticks.view(DATE),
        }, copy=False)

    @cached_property
    def link_assertions(self) -> pd.DataFrame:
        """Every assertion that a WO (operation) and a PO (line) belong together, from any side.

        Columns: site, wo_number, op_seq (NA: the whole WO), po_number, line_number (NA: any line of
        the PO), via (the entity that asserts it), the asserting row's source_system/source_key, and
        the key codes ``_k_wo``, ``_k_op``, ``_k_po``, ``_k_line`` of what it names (``NO_KEY`` for an
        operation or line it does not name).
        """
        parts = []
        lines = self["po_line"]
        from_po = lines[lines["wo_ref"].notna()]
        parts.append(pd.DataFrame({
            "site": from_po["site"], "wo_number": from_po["wo_ref"], "op_seq": from_po["op_ref"],
            "po_number": from_po["po_number"], "line_number": from_po["line_number"], "via": "po_line",
            "source_system": from_po["source_system"], "source_key": from_po["source_key"],
            "_k_wo": from_po["_k_ref_wo"], "_k_op": from_po["_k_ref_op"], "_k_po": from_po["_k_po"],
            "_k_line": from_po["_k_line"],
        }))
        for name, op_column in (("work_order", None), ("wo_operation", "op_seq")):
            rows = self[name]
            rows = rows[rows["po_ref"].notna()]
            parts.append(pd.DataFrame({
                "site": rows["site"], "wo_number": rows["wo_number"],
                "op_seq": rows[op_column] if op_column else pd.Series(pd.NA, index=rows.index, dtype=TEXT),
                "po_number": rows["po_ref"], "line_number": rows["po_line_ref"], "via": name,
                "source_system": rows["source_system"], "source_key": rows["source_key"],
                "_k_wo": rows["_k_wo"], "_k_op": rows["_k_op"] if op_column else NO_KEY,
                "_k_po": rows["_k_ref_po"], "_k_line": rows["_k_ref_line"],
            }))
        links = self["wo_po_link"]
        links = links[links["status"].isin(ACTIVE_LINK_STATUSES)]
        parts.append(pd.DataFrame({
            "site": links["site"], "wo_number": links["wo_number"], "op_seq": links["op_seq"],
            "po_number": links["po_number"], "line_number": links["line_number"], "via": "wo_po_link",
            "source_system": links["source_system"], "source_key": links["source_key"],
            "_k_wo": links["_k_wo"], "_k_op": links["_k_op"], "_k_po": links["_k_po"], "_k_line": links["_k_line"],
        }))
        out = pd.concat(parts, ignore_index=True)
        for column in ("site", "wo_number", "op_seq", "po_number", "line_number", "via", "source_system", "source_key"):
            out[column] = out[column].astype(TEXT)
        for column in ("_k_wo", "_k_op", "_k_po", "_k_line"):
            out[column] = out[column].astype(np.int64)
        return out

    @cached_property
    def wo_line_pairs(self) -> pd.DataFrame:
        """Each (work order ``_k_wo``, PO line ``po_row``) pair linked from any side, once."""
        return self.resolved_links[["_k_wo", "po_row"]].drop_duplicates().reset_index(drop=True)

    @cached_property
    def resolved_links(self) -> pd.DataFrame:
        """Assertions joined to the existing PO lines they name (one row per assertion and PO line).

        Columns: site, wo_number, op_seq, via, po_number, line_number, the PO line's
        ``po_source_system``/``po_source_key`` and its position in ``self["po_line"]`` (``po_row``),
        and the key codes ``_k_wo``, ``_k_op``, ``_k_line``. Assertions naming no existing line are absent.
        """
        assertions = self.link_assertions
        po_lines = self["po_line"]
        lines = pd.DataFrame({"_k_line": po_lines["_k_line"].to_numpy(), "_k_po": po_lines["_k_po"].to_numpy(),
                              "po_row": np.arange(len(po_lines), dtype=np.int64)})
        lines = lines[known(lines["_k_line"])]
        named_line = known(assertions["_k_line"])
        by_line = assertions.loc[named_line & known(assertions["_k_po"]), ["_k_line", "_k_wo", "_k_op", "via"]]
        by_line = by_line.reset_index().merge(lines[["_k_line", "po_row"]], on="_k_line")
        whole_po = assertions.loc[~named_line & assertions["line_number"].isna() & known(assertions["_k_po"]),
                                  ["_k_po", "_k_wo", "_k_op", "via"]]
        by_po = whole_po.reset_index().merge(lines[["_k_po", "_k_line", "po_row"]], on="_k_po").drop(columns="_k_po")
        pairs = pd.concat([by_line, by_po], ignore_index=True)
        assertion = pairs["index"].to_numpy()
        po_row = pairs["po_row"].to_numpy()
        def take(frame: pd.DataFrame, column: str, rows: np.ndarray) -> pd.Series:
            # the column's own (Arrow) values at the rows: no round trip through Python objects
            return frame[column].take(rows).reset_index(drop=True)

        return pd.DataFrame({
            "site": take(assertions, "site", assertion), "wo_number": take(assertions, "wo_number", assertion),
            "op_seq": take(assertions, "op_seq", assertion), "via": take(assertions, "via", assertion),
            "po_number": take(po_lines, "po_number", po_row), "line_number": take(po_lines, "line_number", po_row),
            "po_source_system": take(po_lines, "source_system", po_row),
            "po_source_key": take(po_lines, "source_key", po_row),
            "po_row": po_row, "_k_wo": pairs["_k_wo"].to_numpy(), "_k_op": pairs["_k_op"].to_numpy(),
            "_k_line": pairs["_k_line"].to_numpy(),
        })

    def assertion_resolves(self, assertions: pd.DataFrame) -> pd.Series:
        """Whether each (site, po_number, line_number) reference names an existing PO line.

        An NA line number names the whole PO, which any of its lines satisfies. ``assertions`` may
        carry the codes ``_k_po`` and ``_k_line`` of what it names (``link_assertions`` does); else
        the text columns are matched.
        """
        lines = self["po_line"]
        with_line = assertions["line_number"].notna()
        if "_k_line" in assertions and "_k_po" in assertions:
            lines_known = lines[known(lines["_k_line"])]
            by_line = pd.Series(codes_in(assertions["_k_line"], lines_known["_k_line"]), index=assertions.index)
            by_po = pd.Series(codes_in(assertions["_k_po"], lines_known["_k_po"]), index=assertions.index)
        else:
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
        links = links[known(links["_k_op"]) & (links["via"] != "work_order").to_numpy()]
        return links.drop_duplicates(["_k_op", "po_row"]).reset_index(drop=True)

    @cached_property
    def osp_codes(self) -> np.ndarray:
        """The ``_k_op`` codes of outside-processing operations (an operation any source flags as such)."""
        ops = self["wo_operation"]
        return np.unique(ops["_k_op"].to_numpy()[flag(ops["is_outside_processing"]).to_numpy() & known(ops["_k_op"])])

    @cached_property
    def osp_links(self) -> pd.DataFrame:
        """``op_links`` whose operation is outside processing, with the operation's first row in
        ``self["wo_operation"]`` as ``op_row``: the PO lines that pay outside processors."""
        links = self.op_links
        links = links[codes_in(links["_k_op"], self.osp_codes)]
        return links.assign(op_row=self.at_first_row("wo_operation", "_k_op", links["_k_op"])).reset_index(drop=True)

    def first_rows(self, entity_name: str, code: str) -> tuple[np.ndarray, np.ndarray]:
        """The known key codes of an entity, sorted and each once, and the position of the first row
        holding each.

        A key held by several sources (the same PO line in two ERPs) is read from its first row, as
        ``line_totals`` does. Computed once per entity and code column; look codes up with
        ``at_first_row``. Two sorted arrays rather than a hashed index: a million-key hash table costs
        several times the memory, and it would be kept for the whole run.
        """
        cache = self.__dict__.setdefault("_first_rows", {})
        if (entity_name, code) not in cache:
            codes = self[entity_name][code].to_numpy(dtype=np.int64)
            order = np.argsort(codes, kind="stable")  # stable: each key's run starts at its first row
            ordered = codes[order]
            starts = np.ones(len(ordered), dtype=bool)
            starts[1:] = ordered[1:] != ordered[:-1]
            starts &= ordered != NO_KEY
            cache[(entity_name, code)] = (ordered[starts], order[starts])
        return cache[(entity_name, code)]

    def at_first_row(self, entity_name: str, code: str, codes: pd.Series | np.ndarray) -> np.ndarray:
        """Position of the first row of ``entity_name`` with each of ``codes`` (-1 where none)."""
        keys, rows = self.first_rows(entity_name, code)
        codes = np.asarray(codes, dtype=np.int64)
        if not len(keys):
            return np.full(len(codes), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
        return np.where(keys[at] == codes, rows[at], -1).astype(np.int64, copy=False)


def rows_matching(frame: pd.DataFrame, wanted: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``frame.merge(wanted, on=on)`` for a large frame and a few wanted keys.

    The frame is first narrowed to the rows whose last key column holds one of the wanted values (one
    hash look-up over that column), so the multi-column merge runs on a handful of rows instead of
    every row of a million-row frame. Same result and row order as the plain merge.
    """
    column = on[-1]
    values = wanted[column]
    candidates = frame[column].isin(values.dropna().unique()).to_numpy(dtype=bool)
    if values.isna().any():
        candidates |= frame[column].isna().to_numpy(dtype=bool)  # merge pairs missing keys with each other
    return frame[candidates].merge(wanted, on=on)


def material_lines(lines: pd.DataFrame) -> np.ndarray:
    """PO lines that buy material: they name an item, are not services and have no outside process."""
    return (lines["item_number"].notna().to_numpy() & ~flag(lines["is_service"]).to_numpy(dtype=bool)
            & lines["process"].isna().to_numpy())


def quantity_text(value: Any) -> str:
    """A quantity for a sentence: 12 rather than 12.0, at most three decimals."""
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


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


def shadowed_erp_copies(work_orders: pd.DataFrame, erp_sources: Iterable[str]) -> np.ndarray:
    """Which work-order rows are an ERP's copy of a work order another source also holds.

    A production order run in the MES is often copied into the ERP for costing; a maintenance order
    may be too. The copy of the system that runs the work (MES or CMMS) is the one rules report on and
    the roll-up costs, so an ERP copy (a row of one of ``erp_sources``) of a work order (site + number)
    that a non-ERP source also holds is shadowed. ``work_orders`` carries ``_k_wo``; returns a boolean
    array aligned with it.
    """
    erp_sources = list(erp_sources)
    if not erp_sources or work_orders.empty:
        return np.zeros(len(work_orders), dtype=bool)
    from_erp = work_orders["source_system"].isin(erp_sources).fillna(False).to_numpy(dtype=bool)
    if not from_erp.any():
        return from_erp
    held_elsewhere = codes_in(work_orders["_k_wo"], work_orders["_k_wo"].to_numpy()[~from_erp])
    return from_erp & held_elsewhere


def judged_work_orders(work_orders: pd.DataFrame, erp_sources: Iterable[str], statuses: Iterable[str],
                       columns: list[str] | None = None) -> pd.DataFrame:
    """The work orders in one of ``statuses`` that a rule judges: an ERP's copy of a work order the MES
    or CMMS also holds is left out (see ``shadowed_erp_copies``). Only ``columns`` (all when None) are
    filtered, since the work-order frame is wide."""
    keep = (~shadowed_erp_copies(work_orders, erp_sources)
            & work_orders["status"].isin(list(statuses)).to_numpy(dtype=bool))
    return (work_orders if columns is None else work_orders[columns])[keep]

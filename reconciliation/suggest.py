"""LNK-006: link suggestions for PO lines that look WO-driven but are linked to no work.

A PO line is **unlinked** when no link names it from either side (``CanonicalFrames.resolved_links``
has no row for it: the line names no work order, and no work order, operation or asserted/confirmed
``wo_po_link`` names it or its PO). It **looks WO-driven** when it is not cancelled and

- it is a service or outside-processing line (``is_service``, or a ``process`` is set), or
- its cost account matches ``wo_account_pattern`` (expense accounts charged to work: ``...-OSP``,
  ``...-SVC``, ``MAINT``, ``MRO``, ``REPAIR``, ``WO``; inventory accounts do not match), or
- its description carries a WO-like number (see below).

Each such line is one LNK-006 finding (warning: money is spent on work the roll-up does not see,
but which work is a judgement, so it is not an error). Its evidence lists the best candidate links
with the evidence of each factor, and the candidates scoring at least ``threshold`` become
``wo_po_link`` rows with status ``suggested`` and their score, for a steward to confirm or reject
(``threadline links``).

**Candidates** come from blocks, never from a cross join of lines and work (every join is on a key):

1. site + WO-like number in the line's description. The numbers are found after ``WO``, ``W/O``,
   ``MO``, ``work order``, ``job`` or ``#`` ("WO 00012345", "MO-26-012345", "#12345"); a number
   is normalised to its digit groups without zero padding ("26-12345"), and its last group
   ("12345") is the blocking key, matched against the last digit group of every work order number;
2. site + supplier (+ process when the line has one): outside-processing operations whose
   expected supplier is the line's supplier (the line's ``supplier_id``, else its PO header's); a
   supplier with more than ``BLOCK_LIMIT`` operations at a site is blocked on site + supplier +
   quantity instead, so the candidates stay proportional to the lines, not to the supplier's work;
3. site + item: work orders producing the line's item, or to which the item was issued
   (``material_issue``) within three date windows of the line's date.

A work order found by blocks 1 or 3 stands for each of its outside-processing operations (or for
itself when it has none), so a suggestion names the operation where one can be told.

**Score.** Each candidate gets five factor scores between 0 and 1:

- ``text``: 1 when a number in the description equals the work order number after normalising
  (digit groups, zero padding removed), 0.8 when only the last digit group matches, else 0;
- ``supplier``: 1 when the line's supplier is the operation's expected supplier, 0.5 when the
  supplier is approved for the operation's process (``supplier.approved_processes``), else 0;
- ``item``: 1 when the line's service type is the operation's process (the line's ``process``, else
  the first process its description names: "Heat treat 45 pcs", "Gauge calibration"), or the line's
  item is the work order's item or was issued to it, else 0;
- ``qty``: 1 when the line's ordered quantity is within ``qty_tolerance_pct`` of the operation's
  (else the work order's) quantity, falling linearly to 0 at 50% apart;
- ``dates``: 1 when the line's need-by date (else its PO's order date) is within
  ``date_window_days`` of the operation's finish (else start) date, else the work order's finish
  (else start) date, falling linearly to 0 at three windows apart.

The score is the weighted mean ``sum(weight_f * factor_f) / sum(weight_f)`` with the weights
``weight_text``, ``weight_supplier``, ``weight_item``, ``weight_qty`` and ``weight_dates``; an
operation already linked to an active PO line (it is bought) has its score multiplied by
``linked_op_factor``, since a second line for it would be a double buy. Candidates scoring at least
``threshold`` are suggested, the best ``max_suggestions`` per line. Weights, threshold and
windows are tolerances of LNK-006 (``rules.tolerances.LNK-006`` in threadline.yaml), checked when
the config loads.

**Steward decisions** live in ``wo_po_link`` too: a confirmed link is an active link every later
run uses; a rejected one carries the fingerprint of the evidence it was rejected on (a hash of the
factor evidence, not of the weights), and the same candidate is suggested again only when its
fingerprint changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import NO_KEY, TEXT, CanonicalFrames, flag, records, shadowed_erp_copies, text, to_json

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

RULE = "LNK-006"
#: who suggests: the ``source_system`` and ``asserted_by`` of suggested ``wo_po_link`` rows
SUGGESTER = "threadline"
FACTORS = ("text", "supplier", "item", "qty", "dates")
#: how many candidates a finding's evidence shows, suggested or not
SHOWN_CANDIDATES = 3
#: operations of one site and supplier beyond which the supplier block also keys on the quantity
BLOCK_LIMIT = 200

#: a WO-like number in free text: a marker, then digit groups ("WO 00012345", "MO-26-012345", "#12345")
_WO_NUMBER_IN_TEXT = re.compile(
    r"(?:\bW\.?/?O\b\.?|\bMO\b|\bWORK\s*ORDER\b|\bJOB\b|#)\s*(?:NO\.?\s*)?[-:#]?\s*(\d{2}[-/ ]\d+|\d+(?:[-/]\d+)*)",
    re.IGNORECASE,
)
#: text and supplier factors whose score is the fraction given
TEXT_CORE_ONLY = 0.8
SUPPLIER_APPROVED_ONLY = 0.5

_LINE_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "item_number", "description",
                "is_service", "process", "cost_account", "qty_ordered", "uom", "need_by_date")
_WO_FIELDS = ("site", "wo_number", "kind", "status", "item_number", "qty", "start_date", "finish_date")
_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "expected_supplier", "qty", "status", "start_date",
              "finish_date")


def tolerance_problems(values: Mapping[str, Any], where: str, *, scoped: bool) -> list[str]:
    """What is wrong with LNK-006 tolerances as configured (``scoped``: an override's)."""
    problems = []
    rule_wide = {"wo_account_pattern", "max_suggestions", *(f"weight_{f}" for f in FACTORS)}
    for name, value in values.items():
        if scoped and name in rule_wide:
            problems.append(f"{where}: LNK-006 {name} is rule-wide; set it under rules.tolerances.LNK-006")
            continue
        if name == "wo_account_pattern":
            try:
                re.compile(str(value))
            except re.error as exc:
                problems.append(f"{where}: LNK-006 wo_account_pattern {value!r} is no regular expression ({exc})")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # the engine reports values of the wrong kind
        if name == "threshold" and not 0 < value <= 1:
            problems.append(f"{where}: LNK-006 threshold must be above 0 and at most 1, not {value}")
        elif name.startswith("weight_") and value < 0:
            problems.append(f"{where}: LNK-006 {name} must not be negative, not {value}")
        elif name == "linked_op_factor" and not 0 <= value <= 1:
            problems.append(f"{where}: LNK-006 linked_op_factor must be between 0 and 1, not {value}")
        elif name in ("date_window_days", "max_suggestions") and value < 1:
            problems.append(f"{where}: LNK-006 {name} must be at least 1, not {value}")
        elif name == "qty_tolerance_pct" and value < 0:
            problems.append(f"{where}: LNK-006 qty_tolerance_pct must not be negative, not {value}")
    if not scoped:
        weights = {f: values.get(f"weight_{f}") for f in FACTORS}
        if all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights.values()) and \
                sum(weights.values()) <= 0:
            problems.append(f"{where}: LNK-006 weights must not all be 0")
    return problems


# ---------------------------------------------------------------------------- numbers in text

def number_keys(values: pd.Series | np.ndarray) -> tuple[list[str | None], np.ndarray]:
    """Normalised form ("26-12345") and last digit group (12345, -1 when none) of WO numbers."""
    full, core = [], np.full(len(values), -1, dtype=np.int64)
    for i, value in enumerate(values):
        groups = re.findall(r"\d+", "" if value is None or value is pd.NA else str(value))
        if not groups:
            full.append(None)
            continue
        stripped = [g.lstrip("0") or "0" for g in groups]
        full.append("-".join(stripped))
        core[i] = int(stripped[-1][-18:])
    return full, core


def numbers_in_text(descriptions: pd.Series) -> pd.DataFrame:
    """Every WO-like number in each description: columns ``row`` (position), ``found`` (the text as
    written), ``full`` and ``core`` (normalised as ``number_keys`` does). For the few unlinked lines only."""
    rows, found, digits = [], [], []
    for row, description in enumerate(descriptions.astype(object)):
        if description is None or description is pd.NA:
            continue
        for match in _WO_NUMBER_IN_TEXT.finditer(str(description)):
            rows.append(row)
            found.append(match.group(0).strip())
            digits.append(match.group(1))
    full, core = number_keys(digits)
    out = pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "found": pd.array(found, dtype=object),
                        "full": pd.array(full, dtype=object), "core": core})
    return out[out["core"] >= 0].drop_duplicates(["row", "full"]).reset_index(drop=True)


def _last_group(values: pd.Series) -> np.ndarray:
    """The last digit group of each text value as an integer (-1 when there is none), column-wise."""
    array = pa.chunked_array([pa.array(values.astype(object).where(values.notna(), None), type=pa.string())]) \
        if not hasattr(values.array, "_pa_array") else values.array._pa_array  # noqa: SLF001
    digits = pc.struct_field(pc.extract_regex(array, r"(?P<d>\d+)\D*$"), [0])
    # at most 18 digits fit an int64; longer groups keep their last 18
    digits = pc.utf8_slice_codeunits(digits, -18)
    return np.asarray(pc.fill_null(pc.cast(digits, pa.int64()), -1).to_numpy(zero_copy_only=False), dtype=np.int64)


# ---------------------------------------------------------------------------- the rule

def _settings(settings: ReconcileSettings) -> dict[str, Any]:
    names = ("threshold", "date_window_days", "qty_tolerance_pct", "linked_op_factor", "max_suggestions",
             "wo_account_pattern", *(f"weight_{f}" for f in FACTORS))
    return {name: settings.tolerance(RULE, name) for name in names}


def _codes(*columns: pd.Series | np.ndarray) -> list[np.ndarray]:
    """Integer codes of the values of several columns from one shared dictionary (NA: -1).

    Text columns are encoded on their Arrow data (no Python strings are made), numbers as they are.
    """
    series = [c.reset_index(drop=True) if isinstance(c, pd.Series) else pd.Series(c) for c in columns]
    text = [isinstance(c.dtype, pd.StringDtype) or c.dtype == object for c in series]
    if all(text):
        series = [c if isinstance(c.dtype, pd.StringDtype) and c.dtype.storage == "pyarrow" else c.astype(TEXT)
                  for c in series]
    joined = pd.concat(series, ignore_index=True)
    codes, _ = pd.factorize(joined, use_na_sentinel=True)
    bounds = np.cumsum([0, *(len(c) for c in series)])
    return [np.asarray(codes[a:b], dtype=np.int64) for a, b in zip(bounds[:-1], bounds[1:])]


def _take(values: pd.Series, rows: np.ndarray, **to_numpy) -> np.ndarray:
    """``values`` at the given positions as numpy, converting only those (not the whole column).

    Positions into an empty column (candidates of work orders that have no operations at all, whose
    operation position is a placeholder) read as missing values."""
    if not len(values):
        return values.reindex(range(len(rows))).to_numpy(**to_numpy)
    return values.take(rows).to_numpy(**to_numpy)


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 key of two non-negative codes (-1 when either is -1)."""
    out = a * np.int64(1 << 31) + b
    return np.where((a < 0) | (b < 0), -1, out)


def unlinked_wo_driven_lines(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """The PO lines LNK-006 is about (see the module docstring), with ``line_row`` (their position in
    ``data.po_lines``), their supplier (own, else the header's) and their date (need-by, else order)."""
    lines = data.po_lines
    linked = np.zeros(len(lines), dtype=bool)
    linked[data.resolved_links["po_row"].to_numpy()] = True
    candidate = ~linked & (lines["status"] != "cancelled").fillna(True).to_numpy(dtype=bool)
    candidate &= lines["wo_ref"].isna().to_numpy()
    looks = candidate & (flag(lines["is_service"]).to_numpy() | lines["process"].notna().to_numpy())
    # the text tests run only over the candidate lines the flags do not settle (stock lines, mostly)
    undecided = np.flatnonzero(candidate & ~looks & (lines["cost_account"].notna().to_numpy()
                                                     | lines["description"].notna().to_numpy()))
    if len(undecided):
        pattern = str(settings.tolerance(RULE, "wo_account_pattern"))
        accounts = lines["cost_account"].take(undecided)
        descriptions = lines["description"].take(undecided)
        with warnings.catch_warnings():
            # the patterns have groups; only whether they match matters here
            warnings.simplefilter("ignore", UserWarning)
            by_text = descriptions.str.contains("(?i)" + _WO_NUMBER_IN_TEXT.pattern, regex=True)
            by_text = by_text.fillna(False).to_numpy(dtype=bool)
            if pattern:
                by_text |= accounts.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
        looks[undecided[by_text]] = True
    rows = np.flatnonzero(looks)
    chosen = lines.take(rows).reset_index(drop=True)
    supplier = chosen["supplier_id"]
    if supplier.isna().any():
        # a line without its own supplier is bought from its PO's
        headers = data["purchase_order"]
        at = data.at_first_row("purchase_order", "_k_po", chosen["_k_po"])
        found = at >= 0
        from_header = pd.Series(pd.NA, index=chosen.index, dtype=TEXT)
        from_header[found] = headers["supplier_id"].take(at[found]).to_numpy()
        supplier = supplier.fillna(from_header)
    return chosen.assign(line_row=rows, line_supplier=supplier, service_type=service_type(chosen),
                         line_date=chosen["need_by_date"].fillna(chosen["header_order_date"]))


#: the processes a description may name as its service type, in the order they are tried
_SERVICE_WORDS = {process: re.compile(r"\b" + process.replace("_", r"[\s_-]?") + r"(?:ing)?\b", re.IGNORECASE)
                  for process in ("heat_treat", "plating", "coating", "ndt", "calibration", "repair", "grinding",
                                  "machining", "inspection", "service")}


def service_type(lines: pd.DataFrame) -> pd.Series:
    """The kind of work each line buys: its ``process``, else the first process its description names
    ("Heat treat 45 pcs", "Gauge calibration"). For the few unlinked lines only."""
    named = []
    for description in lines["description"].astype(object):
        text_ = "" if description is None or description is pd.NA else str(description)
        named.append(next((p for p, word in _SERVICE_WORDS.items() if word.search(text_)), None))
    return lines["process"].fillna(pd.Series(named, index=lines.index, dtype=TEXT))


def candidates(data: CanonicalFrames, settings: ReconcileSettings, lines: pd.DataFrame) -> pd.DataFrame:
    """Scored candidate links of the given unlinked lines, best first per line.

    Columns: ``line`` (position in ``lines``), ``wo_row`` (in ``data["work_order"]``), ``op_row``
    (in ``data["wo_operation"]``, -1 for a WO-level candidate), one ``f_<factor>`` column per factor,
    ``bought`` (the operation already has an active PO line), ``score`` and ``text_found``. A work order
    the MES or CMMS holds and an ERP copies is one candidate, on the MES's or CMMS's copy.
    """
    if lines.empty:
        return _no_candidates()
    tol = _settings(settings)
    wos, ops = data["work_order"], data["wo_operation"]
    window = float(tol["date_window_days"])
    n = len(lines)
    line_idx = np.arange(n, dtype=np.int64)
    osp = flag(ops["is_outside_processing"]).to_numpy()
    osp_rows = np.flatnonzero(osp)

    # block 1: site + WO-like number in the description (last digit group)
    numbers = numbers_in_text(lines["description"])
    parts = []
    if len(numbers):
        wo_core = _last_group(wos["wo_number"])
        maybe = np.flatnonzero(pd.Series(wo_core).isin(numbers["core"].to_numpy()).to_numpy())
        site_l, site_w = _codes(lines["site"].take(numbers["row"].to_numpy()), wos["site"].take(maybe))
        # two integer columns: a core may use all 18 digits, too many to pack beside the site
        hits = pd.DataFrame({"site": site_l, "core": numbers["core"].to_numpy(), "line": numbers["row"].to_numpy()})
        hits = hits[site_l >= 0].merge(pd.DataFrame({"site": site_w, "core": wo_core[maybe], "wo_row": maybe}),
                                       on=["site", "core"])
        parts.append(hits[["line", "wo_row"]].assign(op_row=-1))

    # block 2: site + supplier (+ process) against the expected supplier of outside-processing operations
    has_supplier = lines["line_supplier"].notna().to_numpy()
    if has_supplier.any() and len(osp_rows):
        osp_ops = ops[["site", "expected_supplier", "process", "qty"]].take(osp_rows)
        site_l, site_o = _codes(lines["site"], osp_ops["site"])
        sup_l, sup_o = _codes(lines["line_supplier"], osp_ops["expected_supplier"])
        proc_l, proc_o = _codes(lines["process"], osp_ops["process"])
        key_l = _pair_codes(site_l, sup_l)
        key_o = _pair_codes(site_o, sup_o)
        # a supplier with more operations than BLOCK_LIMIT is blocked on the quantity too, so one busy
        # heat treater cannot multiply the candidates of each of its lines by thousands
        qty_l, qty_o = _codes(lines["qty_ordered"].round(3), osp_ops["qty"].round(3))
        sizes = pd.Series(key_o[key_o >= 0]).value_counts()
        big_l = pd.Series(key_l).map(sizes).fillna(0).to_numpy() > BLOCK_LIMIT
        big_o = pd.Series(key_o).map(sizes).fillna(0).to_numpy() > BLOCK_LIMIT
        block_l, block_o = _codes(np.where(key_l >= 0, key_l, -1), np.where(key_o >= 0, key_o, -1))
        with_qty_l, with_qty_o = _pair_codes(block_l, qty_l), _pair_codes(block_o, qty_o)
        key_l = np.where(big_l, np.where(with_qty_l >= 0, -2 - with_qty_l, -1), key_l)
        key_o = np.where(big_o, np.where(with_qty_o >= 0, -2 - with_qty_o, -1), key_o)
        hits = pd.DataFrame({"key": key_l, "line": line_idx, "proc": proc_l})[key_l != -1].merge(
            pd.DataFrame({"key": key_o, "op_row": osp_rows, "op_proc": proc_o})[key_o != -1], on="key")
        hits = hits[(hits["proc"] < 0) | (hits["proc"] == hits["op_proc"])]
        parts.append(pd.DataFrame({"line": hits["line"].to_numpy(), "wo_row": -1, "op_row": hits["op_row"].to_numpy()}))

    # block 3: site + item, the work order's own item or one issued to it near the line's date
    has_item = lines["item_number"].notna().to_numpy()
    if has_item.any():
        issues = data["material_issue"]
        site_l, site_w, site_i = _codes(lines["site"], wos["site"], issues["site"])
        item_l, item_w, item_i = _codes(lines["item_number"], wos["item_number"], issues["item_number"])
        key_l = _pair_codes(site_l, item_l)
        ours = pd.DataFrame({"key": key_l, "line": line_idx})[key_l >= 0]
        key_w = _pair_codes(site_w, item_w)
        by_wo = ours.merge(pd.DataFrame({"key": key_w, "wo_row": np.arange(len(wos))})[key_w >= 0], on="key")
        key_i = _pair_codes(site_i, item_i)
        issued = ours.merge(pd.DataFrame({"key": key_i, "issue_row": np.arange(len(issues))})[key_i >= 0], on="key")
        if len(issued):
            line_day = lines["line_date"].to_numpy()[issued["line"].to_numpy()]
            issue_day = issues["issue_date"].to_numpy()[issued["issue_row"].to_numpy()]
            apart = np.abs((line_day - issue_day) / np.timedelta64(1, "D"))
            issued = issued[(apart <= 3 * window)]
            wo_at = _first_positions(wos["_k_wo"], issues["_k_wo"].to_numpy()[issued["issue_row"].to_numpy()])
            issued = issued.assign(wo_row=wo_at)[wo_at >= 0]
        parts.append(pd.concat([by_wo[["line", "wo_row"]], issued[["line", "wo_row"]]]).assign(op_row=-1))

    pairs = pd.concat(parts, ignore_index=True) if parts else _no_candidates()[["line", "wo_row", "op_row"]]
    if pairs.empty:
        return _no_candidates()
    pairs = pairs.astype(np.int64)
    pairs = _expand_to_operations(pairs, wos, ops, osp_rows)
    pairs = _on_copy_of_record(pairs, wos, settings)
    return _score(data, settings, lines, pairs, numbers, tol)


def _on_copy_of_record(pairs: pd.DataFrame, wos: pd.DataFrame, settings: ReconcileSettings) -> pd.DataFrame:
    """Candidates on an ERP's copy of a work order the MES or CMMS holds moved to that source's copy, so
    a work order is one candidate (one link id, one fingerprint a rejection can hold for)."""
    shadowed = shadowed_erp_copies(wos, settings.sources_with_role("erp"))
    rows = pairs["wo_row"].to_numpy().copy()
    moved = (rows >= 0) & shadowed[np.maximum(rows, 0)] if len(rows) else np.zeros(0, dtype=bool)
    if not moved.any():
        return pairs
    kept = np.flatnonzero(~shadowed)
    rows[moved] = _first_positions(wos["_k_wo"].take(kept), wos["_k_wo"].to_numpy()[rows[moved]])
    rows[moved] = np.where(rows[moved] >= 0, kept[np.maximum(rows[moved], 0)], -1)
    pairs = pairs.assign(wo_row=rows)[rows >= 0]
    return pairs.drop_duplicates(["line", "wo_row", "op_row"]).reset_index(drop=True)


def _first_positions(codes: pd.Series, wanted: np.ndarray) -> np.ndarray:
    """Position in ``codes`` of the first row with each wanted key code (-1 when absent or ``NO_KEY``)."""
    values = codes.to_numpy()
    keep = np.flatnonzero(values != NO_KEY)
    first = pd.Series(keep, index=values[keep])
    first = first[~first.index.duplicated()]
    at = pd.Index(first.index).get_indexer(np.asarray(wanted))
    return np.where(at >= 0, first.to_numpy()[np.maximum(at, 0)] if len(first) else -1, -1).astype(np.int64)


def _expand_to_operations(pairs: pd.DataFrame, wos: pd.DataFrame, ops: pd.DataFrame,
                          osp_rows: np.ndarray) -> pd.DataFrame:
    """Each WO-level candidate becomes its WO's outside-processing operations (or stays WO-level when it
    has none); each operation-level one gets its WO's row. One row per line, WO and operation."""
    wo_index = wos["_k_wo"]
    op_level = pairs[pairs["op_row"] >= 0]
    if len(op_level):
        op_wo_codes = ops["_k_wo"].to_numpy()[op_level["op_row"].to_numpy()]
        at = _first_positions(wo_index, op_wo_codes)
        op_level = op_level.assign(wo_row=at)[at >= 0]
    wo_level = pairs[pairs["op_row"] < 0].drop(columns="op_row").drop_duplicates()
    if len(wo_level):
        osp_of = pd.DataFrame({"_k_wo": ops["_k_wo"].to_numpy()[osp_rows], "op_row": osp_rows})
        with_code = wo_level.assign(_k_wo=wo_index.to_numpy()[wo_level["wo_row"].to_numpy()])
        expanded = with_code.merge(osp_of, on="_k_wo", how="left")
        expanded["op_row"] = expanded["op_row"].fillna(-1).astype(np.int64)
        wo_level = expanded.drop(columns="_k_wo")
    out = pd.concat([op_level, wo_level], ignore_index=True).astype(np.int64)
    return out.drop_duplicates(["line", "wo_row", "op_row"]).reset_index(drop=True)


def _no_candidates() -> pd.DataFrame:
    columns = {"line": np.int64, "wo_row": np.int64, "op_row": np.int64, **{f"f_{f}": float for f in FACTORS},
               "bought": bool, "score": float}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()}).assign(
        text_found=pd.Series(dtype=object))


def _score(data: CanonicalFrames, settings: ReconcileSettings, lines: pd.DataFrame, pairs: pd.DataFrame,
           numbers: pd.DataFrame, tol: dict[str, Any]) -> pd.DataFrame:
    """Factor scores and the weighted score of each candidate pair (module docstring)."""
    wos, ops = data["work_order"], data["wo_operation"]
    li, wi, oi = (pairs[c].to_numpy() for c in ("line", "wo_row", "op_row"))
    has_op = oi >= 0
    oi_safe = np.maximum(oi, 0)

    # text
    f_text = np.zeros(len(pairs))
    found = np.full(len(pairs), None, dtype=object)
    if len(numbers):
        # only the pairs of lines with a number in their text can match one
        with_number = np.flatnonzero(np.isin(li, numbers["row"].to_numpy()))
        wo_full, wo_core = number_keys(_take(wos["wo_number"], wi[with_number], dtype=object))
        cand = pd.DataFrame({"pair": with_number, "row": li[with_number], "core": wo_core,
                             "wo_full": pd.array(wo_full, dtype=object)})
        hit = cand.merge(numbers, on=["row", "core"])
        if len(hit):
            value = np.where(hit["full"].to_numpy() == hit["wo_full"].to_numpy(), 1.0, TEXT_CORE_ONLY)
            hit = hit.assign(value=value).sort_values(["pair", "value"], ascending=[True, False]).drop_duplicates("pair")
            f_text[hit["pair"].to_numpy()] = hit["value"].to_numpy()
            found[hit["pair"].to_numpy()] = hit["found"].to_numpy()

    # supplier
    line_supplier = lines["line_supplier"].to_numpy(dtype=object, na_value=None)[li]
    expected = np.where(has_op, _take(ops["expected_supplier"], oi_safe, dtype=object, na_value=None), None)
    process = np.where(has_op, _take(ops["process"], oi_safe, dtype=object, na_value=None), None)
    same_supplier = (line_supplier == expected) & (line_supplier != None)  # noqa: E711 - element-wise
    approved = _approved(data, lines["site"].to_numpy(dtype=object)[li], line_supplier, process)
    f_supplier = np.where(same_supplier, 1.0, np.where(approved, SUPPLIER_APPROVED_ONLY, 0.0))

    # item or service
    line_process = lines["service_type"].to_numpy(dtype=object, na_value=None)[li]
    same_process = (line_process == process) & (line_process != None)  # noqa: E711
    line_item = lines["item_number"].to_numpy(dtype=object, na_value=None)[li]
    wo_item = _take(wos["item_number"], wi, dtype=object, na_value=None)
    same_item = (line_item == wo_item) & (line_item != None)  # noqa: E711
    same_item |= _issued(data, pairs, lines)
    f_item = np.where(same_process | same_item, 1.0, 0.0)

    # quantity
    line_qty = lines["qty_ordered"].to_numpy(dtype="float64", na_value=np.nan)[li]
    work_qty = np.where(has_op, _take(ops["qty"], oi_safe, dtype="float64", na_value=np.nan), np.nan)
    work_qty = np.where(np.isnan(work_qty), _take(wos["qty"], wi, dtype="float64", na_value=np.nan), work_qty)
    with np.errstate(invalid="ignore", divide="ignore"):
        apart = np.abs(line_qty - work_qty) / np.maximum(np.abs(line_qty), np.abs(work_qty))
    apart = np.where(line_qty == work_qty, 0.0, apart)
    qty_tol = settings.tolerance_for(RULE, "qty_tolerance_pct", _selector_rows(lines, li)).to_numpy() / 100.0
    f_qty = np.where(apart <= qty_tol, 1.0, np.clip(1.0 - 2.0 * apart, 0.0, 1.0))
    f_qty = np.nan_to_num(f_qty, nan=0.0)

    # dates
    line_day = lines["line_date"].to_numpy()[li]
    work_day = _work_day(wos, ops, wi, oi_safe, has_op)
    days = np.abs((line_day - work_day) / np.timedelta64(1, "D"))
    windows = settings.tolerance_for(RULE, "date_window_days", _selector_rows(lines, li)).to_numpy()
    f_dates = np.where(days <= windows, 1.0, np.clip(1.0 - (days - windows) / (2.0 * windows), 0.0, 1.0))
    f_dates = np.nan_to_num(f_dates, nan=0.0)

    weights = {f: float(tol[f"weight_{f}"]) for f in FACTORS}
    factor = {"text": f_text, "supplier": f_supplier, "item": f_item, "qty": f_qty, "dates": f_dates}
    score = sum(weights[f] * factor[f] for f in FACTORS) / sum(weights.values())
    bought = np.zeros(len(pairs), dtype=bool)
    if has_op.any():
        bought[has_op] = np.isin(ops["_k_op"].to_numpy()[oi[has_op]], _bought_ops(data))
    score = np.where(bought, score * float(tol["linked_op_factor"]), score)
    out = pairs.assign(**{f"f_{f}": factor[f] for f in FACTORS}, bought=bought, score=np.round(score, 4),
                       text_found=found)
    # best first; ties broken by the work order and operation numbers so runs agree
    out = out.assign(_wo=_take(wos["wo_number"], wi, dtype=object),
                     _op=np.where(has_op, _take(ops["op_seq"], oi_safe, dtype=object, na_value=""), ""))
    out = out.sort_values(["line", "score", "_wo", "_op"], ascending=[True, False, True, True], kind="stable")
    return out.drop(columns=["_wo", "_op"]).reset_index(drop=True)


def _selector_rows(lines: pd.DataFrame, li: np.ndarray) -> pd.DataFrame:
    """The lines' supplier, process and site per pair, for per-supplier/process/site tolerances."""
    return pd.DataFrame({"supplier_id": lines["line_supplier"].to_numpy(dtype=object)[li],
                         "process": lines["process"].to_numpy(dtype=object)[li],
                         "site": lines["site"].to_numpy(dtype=object)[li]})


def _work_day(wos, ops, wi, oi_safe, has_op) -> np.ndarray:
    """Finish, else start date of the operation, else of the work order."""
    day = np.full(len(wi), np.datetime64("NaT"), dtype="datetime64[us]")
    for frame, rows, mask in ((wos, wi, np.ones(len(wi), dtype=bool)), (ops, oi_safe, has_op)):
        for column in ("start_date", "finish_date"):
            values = frame[column].to_numpy()[rows] if len(frame) else day
            take = mask & ~np.isnat(values)
            day = np.where(take, values, day)
    return day


def _approved(data: CanonicalFrames, site: np.ndarray, supplier: np.ndarray, process: np.ndarray) -> np.ndarray:
    """Whether each supplier is approved for each process (by the supplier master of the site, or of no site)."""
    suppliers = data["supplier"]
    if suppliers.empty or not len(site):
        return np.zeros(len(site), dtype=bool)
    approved = suppliers.loc[suppliers["approved_processes"].notna(), ["site", "supplier_id", "approved_processes"]]
    # one row per supplier, site and approved process ("heat_treat,plating" is two)
    approved = approved.assign(process=approved["approved_processes"].astype(object).str.lower().str.split(","))
    approved = approved.explode("process").drop(columns="approved_processes")
    approved["process"] = approved["process"].str.strip()
    approved["site"] = approved["site"].astype(object).where(approved["site"].notna(), "*")
    asked = pd.DataFrame({"site": site, "supplier_id": supplier, "process": process})
    # a supplier master without a site approves at every site
    anywhere = asked.assign(site="*")
    left, right = _row_codes(pd.concat([asked, anywhere], ignore_index=True), approved)
    hit = pd.Series(left).isin(right[right >= 0]).to_numpy() & (left >= 0)
    return hit[:len(asked)] | hit[len(asked):]


def _row_codes(left: pd.DataFrame, right: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per distinct row of the same columns in two frames (-1 where a part is NA)."""
    both = pd.concat([left.astype(object), right[list(left.columns)].astype(object)], ignore_index=True)
    codes = both.groupby(list(left.columns), sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    codes = np.where(both.isna().any(axis=1).to_numpy(), -1, codes)
    return codes[:len(left)], codes[len(left):]


def _issued(data: CanonicalFrames, pairs: pd.DataFrame, lines: pd.DataFrame) -> np.ndarray:
    """Whether the line's item was issued to the candidate's work order."""
    issues = data["material_issue"]
    out = np.zeros(len(pairs), dtype=bool)
    if issues.empty or lines["item_number"].isna().all():
        return out
    wos = data["work_order"]
    item_l, item_i = _codes(lines["item_number"].to_numpy(dtype=object)[pairs["line"].to_numpy()], issues["item_number"])
    wo_codes = wos["_k_wo"].to_numpy()[pairs["wo_row"].to_numpy()]
    key_p = _pair_codes(wo_codes, item_l)
    key_i = _pair_codes(issues["_k_wo"].to_numpy(), item_i)
    return pd.Series(key_p).isin(key_i[key_i >= 0]).to_numpy() & (key_p >= 0)


def _bought_ops(data: CanonicalFrames) -> np.ndarray:
    """Operation codes already linked at operation level to a PO line that is not cancelled."""
    links = data.op_links
    active = (data["po_line"]["status"] != "cancelled").fillna(True).to_numpy(dtype=bool)
    return np.unique(links["_k_op"].to_numpy()[active[links["po_row"].to_numpy()]])


# ---------------------------------------------------------------------------- evidence and output

def link_id(site: Any, wo_number: Any, op_seq: Any, po_number: Any, line_number: Any) -> str:
    """The stable id of a (suggested) link: ``"LK-"`` and 16 hex digits of the SHA-1 of its keys."""
    key = "|".join(text(v) for v in (site, wo_number, op_seq, po_number, line_number))
    return "LK-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def fingerprint(factors: Mapping[str, Any]) -> str:
    """A hash of a candidate's factor evidence: what a rejection holds for (not the weights or score)."""
    plain = {name: {k: v for k, v in values.items() if k != "score"} for name, values in factors.items()}
    return hashlib.sha1(to_json(plain).encode("utf-8")).hexdigest()[:16]


def _factor_evidence(row, line, wo, op) -> dict[str, dict[str, Any]]:
    """What each factor compared, and its score, for one candidate."""
    op_get = (lambda name: op.get(name)) if op is not None else (lambda name: None)
    work_date = next((v for v in (op_get("finish_date"), op_get("start_date"), wo.get("finish_date"),
                                  wo.get("start_date")) if v is not None), None)
    return {
        "text": {"found": row.text_found if isinstance(row.text_found, str) else None, "wo_number": wo["wo_number"], "score": row.f_text},
        "supplier": {"line": line["line_supplier"], "expected": op_get("expected_supplier"),
                     "process": op_get("process"), "score": row.f_supplier},
        "item": {"line_item": line["item_number"], "line_service": line["service_type"], "wo_item": wo.get("item_number"),
                 "op_process": op_get("process"), "score": row.f_item},
        "qty": {"line": line["qty_ordered"], "work": op_get("qty") if op_get("qty") is not None else wo.get("qty"),
                "score": round(float(row.f_qty), 4)},
        "dates": {"line": line["line_date"], "work": work_date, "score": round(float(row.f_dates), 4)},
    }


def _plain(frame: pd.DataFrame, rows: np.ndarray, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as plain dicts (dates as ISO text, NA as None) for evidence."""
    if not len(rows):
        return []
    subset = frame.iloc[rows][list(fields)]
    out = []
    for rec in records(subset.assign(source_system=frame["source_system"].iloc[rows].to_numpy(),
                                     source_key=frame["source_key"].iloc[rows].to_numpy()), "", fields):
        rec.pop("entity", None)
        out.append(rec)
    return out


def _rejections(data: CanonicalFrames) -> dict[str, str | None]:
    """Rejected links by link id -> the fingerprint they were rejected on (None: rejected whatever)."""
    links = data["wo_po_link"]
    rejected = links[links["status"] == "rejected"]
    out: dict[str, str | None] = {}
    for row in rejected.itertuples(index=False):
        fp = None
        try:
            fp = json.loads(row.evidence).get("fingerprint") if isinstance(row.evidence, str) else None
        except (ValueError, AttributeError):
            fp = None
        out[link_id(row.site, row.wo_number, row.op_seq, row.po_number, row.line_number)] = fp
    return out


def suggest_links(data: CanonicalFrames, settings: ReconcileSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LNK-006 findings and the suggested ``wo_po_link`` rows (see the module docstring).

    Returns (subjects, suggestions). The suggestions frame has the canonical ``wo_po_link`` columns
    plus ``link_id``, ``fingerprint``, ``po_source_system`` and ``po_source_key``.
    """
    lines = unlinked_wo_driven_lines(data, settings)
    if lines.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS)), empty_suggestions()
    scored = candidates(data, settings, lines)
    tol = _settings(settings)
    thresholds = settings.tolerance_for(RULE, "threshold", _selector_rows(lines, np.arange(len(lines)))).to_numpy()
    max_suggestions = int(tol["max_suggestions"])
    rank = scored.groupby("line", sort=False).cumcount().to_numpy() if len(scored) else np.empty(0, dtype=np.int64)
    shown = scored[rank < SHOWN_CANDIDATES + max_suggestions].reset_index(drop=True)
    rejections = _rejections(data)

    wos, ops = data["work_order"], data["wo_operation"]
    wo_rec = dict(zip(np.unique(shown["wo_row"]), _plain(wos, np.unique(shown["wo_row"]), _WO_FIELDS)))
    op_rows = np.unique(shown.loc[shown["op_row"] >= 0, "op_row"])
    op_rec = dict(zip(op_rows, _plain(ops, op_rows, _OP_FIELDS)))
    line_fields = (*_LINE_FIELDS, "line_supplier", "line_date", "service_type")
    line_rec = [{**r, "entity": "po_line"} for r in records(lines, "po_line", line_fields)]
    for rec in line_rec:
        rec.pop("line_supplier"), rec.pop("line_date"), rec.pop("service_type")
    plain_lines = [dict(zip(line_fields, values)) for values in
                   zip(*(_plain_column(lines[f]) for f in line_fields))]

    per_line: dict[int, list] = {}
    for row in shown.itertuples(index=False):
        per_line.setdefault(int(row.line), []).append(row)

    summaries, evidence, wo_numbers, op_seqs, suggestions = [], [], [], [], []
    for i in range(len(lines)):
        line = plain_lines[i]
        threshold = float(thresholds[i])
        listed, suggested = [], []
        for row in per_line.get(i, []):
            wo = wo_rec[row.wo_row]
            op = op_rec.get(row.op_row) if row.op_row >= 0 else None
            if len(listed) >= SHOWN_CANDIDATES and (len(suggested) >= max_suggestions or row.score < threshold):
                break
            factors = _factor_evidence(row, line, wo, op)
            op_seq = op["op_seq"] if op is not None else None
            entry = {"wo_number": wo["wo_number"], "op_seq": op_seq, "score": float(row.score),
                     "already_bought": bool(row.bought), "factors": factors}
            rejected = False
            if row.score >= threshold:
                # only a link that may be suggested needs its id and fingerprint (a rejection is by both)
                entry["link_id"] = link_id(line["site"], wo["wo_number"], op_seq, line["po_number"], line["line_number"])
                entry["fingerprint"] = fingerprint(factors)
                rejected = entry["link_id"] in rejections and rejections[entry["link_id"]] in (None, entry["fingerprint"])
            if rejected:
                entry["rejected"] = True
            elif row.score >= threshold and len(suggested) < max_suggestions:
                entry["suggested"] = True
                suggested.append(entry)
            if len(listed) < SHOWN_CANDIDATES or entry.get("suggested"):
                listed.append(entry)
        where = (f"PO {line['po_number']} line {line['line_number']} (site {line['site']}, "
                 f"{lines['source_system'].iloc[i]})")
        kind = _kind(line)
        if suggested:
            best = suggested[0]
            target = f"work order {best['wo_number']}" + (f" operation {best['op_seq']}" if best["op_seq"] else "")
            more = f" ({len(suggested) - 1} more suggested)" if len(suggested) > 1 else ""
            summaries.append(f"{where} is {kind} but linked to no work; suggested: {target} with score "
                             f"{best['score']:.2f} (threshold {threshold:g}){more}.")
        elif listed:
            summaries.append(f"{where} is {kind} but linked to no work; no candidate reaches the threshold "
                             f"{threshold:g} (best: work order {listed[0]['wo_number']}, score {listed[0]['score']:.2f}).")
        else:
            summaries.append(f"{where} is {kind} but linked to no work, and no work order of site {line['site']} "
                             f"shares its supplier, item or a number in its description.")
        evidence.append(to_json({"records": [line_rec[i], *[wo_rec[r.wo_row] | {"entity": "work_order"}
                                                            for r in per_line.get(i, [])[:1]]],
                                 "candidates": listed, "threshold": threshold,
                                 "weights": {f: float(tol[f"weight_{f}"]) for f in FACTORS}}))
        wo_numbers.append(suggested[0]["wo_number"] if suggested else None)
        op_seqs.append(suggested[0]["op_seq"] if suggested else None)
        for entry in suggested:
            suggestions.append({
                "link_id": entry["link_id"], "site": line["site"], "wo_number": entry["wo_number"],
                "op_seq": entry["op_seq"], "po_number": line["po_number"], "line_number": line["line_number"],
                "score": entry["score"], "fingerprint": entry["fingerprint"],
                "po_source_system": lines["source_system"].iloc[i], "po_source_key": lines["source_key"].iloc[i],
                "evidence": to_json({"fingerprint": entry["fingerprint"], "factors": entry["factors"]}),
            })
    subjects = subject_frame(lines, "po_line", wo_number=wo_numbers, op_seq=op_seqs, po_number=lines["po_number"],
                             line_number=lines["line_number"], summary=summaries, evidence=evidence)
    return subjects, _suggestion_frame(suggestions)


def _plain_column(values: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return [None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d") for v in values]
    if values.dtype == "float64":
        return [None if np.isnan(v) else float(v) for v in values.to_numpy()]
    return [None if v is pd.NA or v is None else v for v in values.astype(object)]


def _kind(line: Mapping[str, Any]) -> str:
    """How the line looks WO-driven, for its summary."""
    if line.get("process"):
        return f"a {line['process']} line"
    if line.get("is_service"):
        return "a service line"
    if line.get("cost_account"):
        return f"charged to {line['cost_account']}"
    return "a line naming a work-order number in its description"


SUGGESTION_COLUMNS = ("link_id", "site", "wo_number", "op_seq", "po_number", "line_number", "score", "fingerprint",
                      "po_source_system", "po_source_key", "evidence")


def empty_suggestions() -> pd.DataFrame:
    """A suggestions frame without rows."""
    return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else object) for c in SUGGESTION_COLUMNS})


def _suggestion_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return empty_suggestions()
    return pd.DataFrame(rows, columns=list(SUGGESTION_COLUMNS)).drop_duplicates("link_id").reset_index(drop=True)


def unlinked_wo_driven_line(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-006 as a rule check: the findings; the suggestions made are left on ``data.suggested_links``
    for the engine to hand over with the result."""
    subjects, suggestions = suggest_links(data, settings)
    data.suggested_links = suggestions
    return subjects

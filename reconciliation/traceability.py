"""Traceability rules: what an auditor needs to see recorded before work is called done, and the same
work or purchase told alike by every system that holds it.

TRC-001 finds work called done without its inspection sign-off, TRC-002 controlled material issued or
received for a work order without its lot or serial, TRC-003 production orders the MES and the ERP do
not both hold, TRC-004 the same work order or PO line told differently by two sources, and TRC-005
material bought for a work order that no work order consumed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    WO_KEY,
    CanonicalFrames,
    codes_in,
    describe_po_line,
    flag,
    grouped_records,
    judged_work_orders,
    key_tuples,
    known,
    material_lines,
    numeric_order,
    quantity_text,
    records,
    text,
    to_json,
)

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

#: work-order statuses that claim the work is finished
WO_DONE_STATUSES = ("completed", "closed")

_WO_FIELDS = ("site", "wo_number", "kind", "status", "closed_date", "inspection_required", "inspection_signed_off")
_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "inspection_required", "inspection_signed_off", "inspector")


def _unsigned(frame: pd.DataFrame) -> pd.Series:
    """Inspection required and not signed off; an unknown sign-off is not a sign-off."""
    return flag(frame["inspection_required"]) & ~flag(frame["inspection_signed_off"])


def closed_without_sign_off(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """TRC-001: completed or closed work orders missing a required inspection sign-off.

    The sign-off may be missing on the work order itself or on any of its operations (matched by
    site and WO number across sources). An ERP's copy of a work order the MES or CMMS holds is not
    reported beside it.
    """
    wos = data["work_order"]
    # an ERP's copy of a WO the MES or CMMS holds is judged on that copy, once
    done = judged_work_orders(wos, settings.sources_with_role("erp"), WO_DONE_STATUSES).reset_index(drop=True)
    ops = data["wo_operation"]
    # one boolean pass over the operations on integer key codes, then one take of the few unsigned ones
    of_done = _unsigned(ops).to_numpy(dtype=bool) & codes_in(ops["_k_wo"], done["_k_wo"])
    unsigned_ops = ops[of_done].sort_values("op_seq", key=numeric_order)
    op_records = grouped_records(unsigned_ops, WO_KEY, "wo_operation", _OP_FIELDS, limit=50)
    wo_unsigned = _unsigned(done).to_numpy(dtype=bool)
    offending_mask = wo_unsigned | codes_in(done["_k_wo"], unsigned_ops["_k_wo"])
    offending = done.loc[offending_mask].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    wo_unsigned = wo_unsigned[offending_mask]

    summaries, evidence = [], []
    own = records(offending, "work_order", _WO_FIELDS)
    for record, key, itself, row in zip(own, key_tuples(offending, WO_KEY), wo_unsigned, offending.itertuples(index=False)):
        unsigned = op_records.get(key, [])
        missing = []
        if itself:
            missing.append("the work order itself")
        if unsigned:
            seqs = ", ".join(dict.fromkeys(str(r["op_seq"]) for r in unsigned))
            missing.append(f"operation(s) {seqs}")
        summaries.append(
            f"Work order {row.wo_number} (site {row.site}, {row.source_system}) is {row.status} but the required "
            f"inspection sign-off is missing on {' and '.join(missing)}."
        )
        evidence.append(to_json({"records": [record, *unsigned], "unsigned_operations": [r["op_seq"] for r in unsigned]}))
    return subject_frame(offending, "work_order", wo_number=offending["wo_number"], summary=summaries,
                         evidence=evidence)


# ---------------------------------------------------------------------------- TRC-002

_ISSUE_FIELDS = ("site", "wo_number", "op_seq", "item_number", "qty", "uom", "issue_date", "lot", "serial")
_RECEIPT_FIELDS = ("site", "po_number", "line_number", "qty", "uom", "receipt_date", "lot", "serial")
_ITEM_FIELDS = ("item_number", "description", "lot_controlled", "serial_controlled")
_LINE_FIELDS = ("site", "po_number", "line_number", "item_number", "is_service", "process", "supplier_id",
                "qty_ordered", "uom", "status", "wo_ref", "op_ref")
#: what must be recorded for each kind of control: item master flag -> the column that records it
_CONTROLS = (("lot_controlled", "lot", "lot"), ("serial_controlled", "serial", "serial"))


def _controlled_items(data: CanonicalFrames) -> dict[str, np.ndarray]:
    """Item numbers that any item master marks lot-controlled (key "lot") or serial-controlled ("serial")."""
    items = data["item"]
    return {column: items.loc[flag(items[flag_column]).to_numpy(dtype=bool), "item_number"].dropna().unique()
            for flag_column, column, _ in _CONTROLS}


def _missing_controls(frame: pd.DataFrame, items: pd.Series, controlled: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per control (lot, serial): which rows are of an item under it and record none."""
    return {column: items.isin(controlled[column]).fillna(False).to_numpy(dtype=bool) & frame[column].isna().to_numpy()
            for _, column, _ in _CONTROLS}


def _what_is_missing(row_at: int, missing: dict[str, np.ndarray]) -> list[str]:
    return [word for _, column, word in _CONTROLS if missing[column][row_at]]


def _item_records(data: CanonicalFrames, item_numbers: pd.Series) -> dict[tuple, list[dict]]:
    items = data["item"]
    items = items[items["item_number"].isin(item_numbers.dropna().unique())]
    return grouped_records(items, ["item_number"], "item", _ITEM_FIELDS, limit=3)


def _qty_text(qty, uom) -> str:
    if not text(qty):
        return "an unknown quantity"
    figure = quantity_text(qty)
    return f"{figure} {uom}" if text(uom) else figure


def controlled_item_without_lot_or_serial(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """TRC-002: issues of lot- or serial-controlled items without lot (serial), and receipts of such items
    on PO lines bought for a work order without one.

    An item is controlled when any source's item master says so (items carry no site). A receipt
    is for a work order when its PO line (same site, PO and line number) is linked to one from any
    side: the line naming the WO, or a work order, operation or asserted/confirmed link naming the line.
    """
    controlled = _controlled_items(data)
    if not any(len(v) for v in controlled.values()):
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    parts = []

    issues = data["material_issue"]
    missing = _missing_controls(issues, issues["item_number"], controlled)
    offending_mask = missing["lot"] | missing["serial"]
    if offending_mask.any():
        at = np.flatnonzero(offending_mask)
        offending = issues.take(at).reset_index(drop=True)
        item_records = _item_records(data, offending["item_number"])
        summaries, evidence = [], []
        own = records(offending, "material_issue", _ISSUE_FIELDS)
        for record, row_at, row in zip(own, at, offending.itertuples(index=False)):
            lacking = _what_is_missing(row_at, missing)
            control = " and ".join(f"{word}-controlled" for word in lacking)
            where = f" operation {row.op_seq} of" if text(row.op_seq) else ""
            summaries.append(
                f"Material issue {row.issue_id} ({row.source_system}, site {row.site}) issues "
                f"{_qty_text(row.qty, row.uom)} of {control} item {row.item_number} to{where} work order "
                f"{row.wo_number} without a {' or '.join(lacking)} number: the part cannot be traced."
            )
            evidence.append(to_json({"records": [record, *item_records.get((row.item_number,), [])],
                                     "missing": lacking}))
        parts.append(subject_frame(offending, "material_issue", wo_number=offending["wo_number"],
                                   op_seq=offending["op_seq"], po_number=offending["po_ref"],
                                   line_number=offending["po_line_ref"], summary=summaries, evidence=evidence))

    # receipts on lines bought for a work order
    links = data.resolved_links
    lines = data["po_line"]
    linked_rows = np.unique(links["po_row"].to_numpy())
    receipts = data["receipt"]
    if len(linked_rows) and len(receipts):
        linked = lines.take(linked_rows)
        linked = linked[linked["item_number"].notna().to_numpy() & known(linked["_k_line"])]
        linked = linked.drop_duplicates("_k_line")
        at_line = pd.Index(linked["_k_line"]).get_indexer(receipts["_k_line"])
        on_linked = at_line >= 0
        item_of_receipt = pd.Series(pd.NA, index=receipts.index, dtype=linked["item_number"].dtype)
        item_of_receipt[on_linked] = linked["item_number"].to_numpy()[at_line[on_linked]]
        missing = _missing_controls(receipts, item_of_receipt, controlled)
        offending_mask = on_linked & (missing["lot"] | missing["serial"])
        if offending_mask.any():
            at = np.flatnonzero(offending_mask)
            offending = receipts.take(at).reset_index(drop=True)
            line_of = linked.take(at_line[at]).reset_index(drop=True)
            wo_of_line = links.drop_duplicates("_k_line").set_index("_k_line")["wo_number"]
            wo_numbers = wo_of_line.reindex(offending["_k_line"]).to_numpy()
            item_records = _item_records(data, line_of["item_number"])
            summaries, evidence = [], []
            own = records(offending, "receipt", _RECEIPT_FIELDS)
            line_records = records(line_of, "po_line", _LINE_FIELDS)
            for record, line_record, row_at, wo_number, row, item in zip(
                    own, line_records, at, wo_numbers, offending.itertuples(index=False), line_of["item_number"]):
                lacking = _what_is_missing(row_at, missing)
                control = " and ".join(f"{word}-controlled" for word in lacking)
                summaries.append(
                    f"Receipt {row.receipt_id} ({row.source_system}, site {row.site}) of {_qty_text(row.qty, row.uom)} "
                    f"of {control} item {item} on {describe_po_line(row.po_number, row.line_number)}, bought for "
                    f"work order {wo_number}, records no {' or '.join(lacking)} number: the part cannot be traced "
                    f"from the supplier to the work."
                )
                evidence.append(to_json({"records": [record, line_record, *item_records.get((item,), [])],
                                         "missing": lacking}))
            parts.append(subject_frame(offending, "receipt", wo_number=wo_numbers, po_number=offending["po_number"],
                                       line_number=offending["line_number"], summary=summaries, evidence=evidence))
    if not parts:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------- TRC-003

#: work-order statuses in which an order is not yet, or no longer, expected in the other system
_NOT_EXPECTED_ELSEWHERE = ("planned", "cancelled")
_WO_COPY_FIELDS = ("site", "wo_number", "kind", "status", "item_number", "qty", "created_date", "start_date",
                   "finish_date", "closed_date")


def production_wo_missing_counterpart(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """TRC-003: production work orders of an MES source without an ERP one of the same site and number,
    and the reverse.

    Sides come from ``settings.source_roles`` (role mes, role erp). A site is judged only when both
    sides hold production work orders there; otherwise every order of the one side would fire. An
    order planned or cancelled is not expected on the other side; any production order of the other
    side, whatever its status, is a counterpart. An order is reported once ``grace_days`` have passed
    since its created date, else its start date (a date in the future is not yet due); with neither
    date it is reported.
    """
    mes_sources, erp_sources = settings.sources_with_role("mes"), settings.sources_with_role("erp")
    if not mes_sources or not erp_sources:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    wos = data["work_order"]
    production = (wos["kind"] == "production").fillna(False).to_numpy(dtype=bool) & known(wos["_k_wo"])
    from_mes = production & wos["source_system"].isin(mes_sources).fillna(False).to_numpy(dtype=bool)
    from_erp = production & wos["source_system"].isin(erp_sources).fillna(False).to_numpy(dtype=bool)
    sites_mes = set(wos.loc[from_mes, "site"].dropna().unique())
    sites_erp = set(wos.loc[from_erp, "site"].dropna().unique())
    judged_site = wos["site"].isin(sorted(sites_mes & sites_erp)).fillna(False).to_numpy(dtype=bool)
    expected = judged_site & ~wos["status"].isin(_NOT_EXPECTED_ELSEWHERE).fillna(False).to_numpy(dtype=bool)
    codes = wos["_k_wo"].to_numpy()
    lonely_mes = expected & from_mes & ~codes_in(codes, codes[from_erp])
    lonely_erp = expected & from_erp & ~codes_in(codes, codes[from_mes])
    candidates = wos[lonely_mes | lonely_erp]
    if candidates.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    as_of = pd.Timestamp(settings.as_of)
    grace = settings.tolerance_for("TRC-003", "grace_days", candidates).to_numpy()
    since = candidates["created_date"].fillna(candidates["start_date"])
    due = since.isna().to_numpy() | (since + pd.to_timedelta(grace, unit="D") < as_of).fillna(False).to_numpy(dtype=bool)
    offending = candidates[due].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    grace = grace[due]
    since = since[due].reset_index(drop=True)

    summaries, evidence = [], []
    own = records(offending, "work_order", _WO_COPY_FIELDS)
    for record, days, started, row in zip(own, grace, since, offending.itertuples(index=False)):
        in_mes = row.source_system in mes_sources
        this_side, other_side = ("MES", "ERP") if in_mes else ("ERP", "MES")
        others = ", ".join(erp_sources if in_mes else mes_sources)
        if text(started):
            basis = "created" if text(row.created_date) else "started"
            age = f"; it was {basis} on {text(started)}, more than {days:g} grace day(s) before {as_of.date().isoformat()}"
        else:
            age = "; it has no created or start date, so the grace period cannot run"
        summaries.append(
            f"Production work order {row.wo_number} (site {row.site}) is {row.status} in the {this_side} "
            f"({row.source_system}) but no {other_side} source ({others}) holds a production order {row.wo_number} "
            f"at site {row.site}{age}."
        )
        evidence.append(to_json({"records": [record], "searched_sources": erp_sources if in_mes else mes_sources,
                                 "as_of": as_of.date().isoformat(), "grace_days": float(days)}))
    return subject_frame(offending, "work_order", wo_number=offending["wo_number"], summary=summaries,
                         evidence=evidence)


# ---------------------------------------------------------------------------- TRC-004

#: the status classes copies must agree on: an interface may lag a step, not a class
STATUS_CLASS = {"planned": "open", "released": "open", "in_progress": "open", "on_hold": "open",
                "completed": "done", "closed": "done", "cancelled": "cancelled"}
_PO_COPY_FIELDS = ("site", "po_number", "line_number", "supplier_id", "item_number", "qty_ordered", "uom",
                   "unit_price", "effective_currency", "status")
#: a relative difference below this is rounding, whatever the tolerance
_SLACK = 1e-9


def _copies(frame: pd.DataFrame, code: str, reference_first: np.ndarray,
            columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(copy, reference) row pairs: each row of a key (``code``) held by several sources, against the
    key's copy of record (the first by ``reference_first`` rank, then source system, then table order).

    Only rows of another source than the reference are copies; the frames (of ``columns`` and the
    lineage) are aligned by position.
    """
    keyed = known(frame[code]) & frame[code].duplicated(keep=False).to_numpy()
    rows = frame.loc[keyed, [code, "source_system", "source_key", *columns]]
    if rows.empty:
        return rows, rows
    # source systems are few: sort on their codes (in name order) rather than on the text
    source_code, _ = pd.factorize(rows["source_system"], sort=True)
    rows = rows.assign(_rank=reference_first[keyed], _source=source_code)
    rows = rows.sort_values([code, "_rank", "_source"], kind="stable")
    reference = rows.drop_duplicates(code)
    at = pd.Index(reference[code]).get_indexer(rows[code])
    ref = reference.take(at)
    other = (rows["source_system"].to_numpy() != ref["source_system"].to_numpy())
    return rows[other].reset_index(drop=True), ref[other].reset_index(drop=True)


def _differs(copy: pd.Series, ref: pd.Series) -> np.ndarray:
    """Both values known and not equal."""
    return (copy.notna() & ref.notna() & (copy != ref)).fillna(False).to_numpy(dtype=bool)


def _beyond(copy: pd.Series, ref: pd.Series, pct: np.ndarray) -> np.ndarray:
    """Both numbers known and apart by more than ``pct`` percent of the reference."""
    a, b = copy.to_numpy(dtype="float64", na_value=np.nan), ref.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.abs(a - b) > np.abs(b) * pct / 100.0 + _SLACK


def _days_apart(copy: pd.Series, ref: pd.Series, days: np.ndarray) -> np.ndarray:
    apart = (copy - ref).abs().dt.days.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return apart > days


def copies_disagree(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """TRC-004: work orders (site + number) and PO lines (site + PO + line) held by several sources that
    disagree, one finding per disagreeing copy, naming every attribute in conflict.

    The copy of record of a work order is one of a source that is not an ERP (the MES or CMMS that
    runs the work), of a PO line one of an ERP; ties go to the first by source system.
    Work orders compare status class (``STATUS_CLASS``), kind, item, quantity (``qty_tolerance_pct``
    of the reference), start and finish dates (``date_tolerance_days``). PO lines compare supplier,
    item, effective currency, unit price (``price_tolerance_pct``; only in the same currency) and
    ordered quantity (``qty_tolerance_pct``). A value one side leaves empty is not compared.
    """
    erp_sources = settings.sources_with_role("erp")
    parts = []

    wos = data["work_order"]
    from_erp = wos["source_system"].isin(erp_sources).fillna(False).to_numpy(dtype=bool)
    copy, ref = _copies(wos, "_k_wo", from_erp.astype(int),
                        list(dict.fromkeys([*_WO_COPY_FIELDS, "kind", "item_number", "qty", "start_date", "finish_date"])))
    if len(copy):
        qty_pct = settings.tolerance_for("TRC-004", "qty_tolerance_pct", ref).to_numpy()
        date_days = settings.tolerance_for("TRC-004", "date_tolerance_days", ref).to_numpy()
        conflicts = {
            "status": _differs(copy["status"].map(STATUS_CLASS), ref["status"].map(STATUS_CLASS)),
            "kind": _differs(copy["kind"], ref["kind"]),
            "item_number": _differs(copy["item_number"], ref["item_number"]),
            "qty": _beyond(copy["qty"], ref["qty"], qty_pct),
            "start_date": _days_apart(copy["start_date"], ref["start_date"], date_days),
            "finish_date": _days_apart(copy["finish_date"], ref["finish_date"], date_days),
        }
        tolerances = {"qty": ("qty_tolerance_pct", qty_pct), "start_date": ("date_tolerance_days", date_days),
                      "finish_date": ("date_tolerance_days", date_days)}
        part = _disagreements(copy, ref, conflicts, tolerances, "work_order", _WO_COPY_FIELDS,
                              lambda row: f"work order {row.wo_number}")
        if part is not None:
            parts.append(subject_frame(part, "work_order", wo_number=part["wo_number"], summary=part["summary"],
                                       evidence=part["evidence"]))

    lines = data.po_lines
    line_from_erp = lines["source_system"].isin(erp_sources).fillna(False).to_numpy(dtype=bool)
    copy, ref = _copies(lines, "_k_line", (~line_from_erp).astype(int),
                        list(dict.fromkeys([*_PO_COPY_FIELDS, "process"])))
    if len(copy):
        qty_pct = settings.tolerance_for("TRC-004", "qty_tolerance_pct", ref).to_numpy()
        price_pct = settings.tolerance_for("TRC-004", "price_tolerance_pct", ref).to_numpy()
        currency_differs = _differs(copy["effective_currency"], ref["effective_currency"])
        conflicts = {
            "supplier_id": _differs(copy["supplier_id"], ref["supplier_id"]),
            "item_number": _differs(copy["item_number"], ref["item_number"]),
            "effective_currency": currency_differs,
            "unit_price": _beyond(copy["unit_price"], ref["unit_price"], price_pct) & ~currency_differs,
            "qty_ordered": _beyond(copy["qty_ordered"], ref["qty_ordered"], qty_pct),
        }
        tolerances = {"unit_price": ("price_tolerance_pct", price_pct), "qty_ordered": ("qty_tolerance_pct", qty_pct)}
        part = _disagreements(copy, ref, conflicts, tolerances, "po_line", _PO_COPY_FIELDS,
                              lambda row: describe_po_line(row.po_number, row.line_number))
        if part is not None:
            parts.append(subject_frame(part, "po_line", po_number=part["po_number"], line_number=part["line_number"],
                                       summary=part["summary"], evidence=part["evidence"]))
    if not parts:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    return pd.concat(parts, ignore_index=True)


_ATTRIBUTE_WORDS = {"status": "status", "kind": "kind", "item_number": "item", "qty": "quantity",
                    "start_date": "start date", "finish_date": "finish date", "supplier_id": "supplier",
                    "effective_currency": "currency", "unit_price": "unit price", "qty_ordered": "ordered quantity"}
_UNITS = {"qty_tolerance_pct": "%", "price_tolerance_pct": "%", "date_tolerance_days": " day(s)"}


def _value_text(value) -> str:
    """A value for a sentence: numbers without a trailing .0 (at most four decimals), dates as ISO."""
    if isinstance(value, (float, np.floating)) and value == value:
        return f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text(value)


def _disagreements(copy: pd.DataFrame, ref: pd.DataFrame, conflicts: dict[str, np.ndarray],
                   tolerances: dict[str, tuple[str, np.ndarray]], entity_name: str, fields: tuple[str, ...],
                   name_of) -> pd.DataFrame | None:
    """The disagreeing copies with a summary and evidence each, or None when all copies agree."""
    any_conflict = np.zeros(len(copy), dtype=bool)
    for mask in conflicts.values():
        any_conflict |= mask
    if not any_conflict.any():
        return None
    at = np.flatnonzero(any_conflict)
    copy, ref = copy.take(at).reset_index(drop=True), ref.take(at).reset_index(drop=True)
    copy_records, ref_records = records(copy, entity_name, fields), records(ref, entity_name, fields)
    summaries, evidence = [], []
    for i, (own, theirs, row, other) in enumerate(zip(copy_records, ref_records, copy.itertuples(index=False),
                                                      ref.itertuples(index=False))):
        said, detail = [], []
        for attribute, mask in conflicts.items():
            if not mask[at[i]]:
                continue
            mine, reference = getattr(row, attribute), getattr(other, attribute)
            if attribute == "status":
                mine, reference = f"{mine} ({STATUS_CLASS.get(mine, '?')})", f"{reference} ({STATUS_CLASS.get(reference, '?')})"
            phrase = f"{_ATTRIBUTE_WORDS[attribute]} {_value_text(mine)} vs {_value_text(reference)}"
            entry = {"attribute": attribute, "copy": own.get(attribute, text(mine) or None),
                     "reference": theirs.get(attribute, text(reference) or None)}
            if attribute in tolerances:
                name, values = tolerances[attribute]
                phrase += f" (tolerance {values[at[i]]:g}{_UNITS[name]})"
                entry[name] = float(values[at[i]])
            said.append(phrase)
            detail.append(entry)
        summaries.append(
            f"{name_of(row)[:1].upper()}{name_of(row)[1:]} (site {row.site}) is held by {row.source_system} and "
            f"{other.source_system}, which disagree: {'; '.join(said)} ({row.source_system} vs "
            f"{other.source_system}, the copy of record)."
        )
        evidence.append(to_json({"records": [own, theirs], "conflicts": detail,
                                 "reference": {"source_system": other.source_system, "source_key": other.source_key}}))
    return copy.assign(summary=summaries, evidence=evidence)


# ---------------------------------------------------------------------------- TRC-005

def wo_driven_receipt_not_consumed(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """TRC-005: receipts of material bought for a work order that no material issue consumes after
    ``grace_days``.

    Bought for a work order: the receipt's PO line (same site, PO and line number) is a material line
    (an item, not a service, no outside process) linked to a work order from any side (the line's
    wo_ref, or a work order, operation or asserted/confirmed link naming the line). Only receipts of a
    positive quantity whose receipt date plus ``grace_days`` lies before the as-of date are judged.
    Consumed: a material issue, of any date and quantity, of the line's item to one of the work orders
    the line is linked to (same site), or of the received lot of that item to any work order of the
    site.
    """
    lines = data["po_line"]
    material = material_lines(lines)
    links = data.resolved_links
    links = links[material[links["po_row"].to_numpy()]]
    receipts = data["receipt"]
    if links.empty or receipts.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    # (line key, WO, item) of every material line bought for a work order
    bought = pd.DataFrame({"_k_line": links["_k_line"].to_numpy(), "_k_wo": links["_k_wo"].to_numpy(),
                           "item_number": lines["item_number"].take(links["po_row"].to_numpy()).to_numpy(),
                           "po_row": links["po_row"].to_numpy()})
    bought = bought[known(bought["_k_wo"])].drop_duplicates(["_k_line", "_k_wo"])
    positive = (receipts["qty"] > 0).fillna(False).to_numpy(dtype=bool)
    candidates = receipts[positive & codes_in(receipts["_k_line"], bought["_k_line"])]
    if candidates.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    # the tolerance is the line's (its supplier) and site's
    line_at = pd.Index(bought.drop_duplicates("_k_line")["_k_line"]).get_indexer(candidates["_k_line"])
    first_row = bought.drop_duplicates("_k_line")["po_row"].to_numpy()[line_at]
    scope = pd.DataFrame({"site": candidates["site"].to_numpy(),
                          "supplier_id": lines["supplier_id"].take(first_row).to_numpy(),
                          "process": lines["process"].take(first_row).to_numpy()})
    grace = settings.tolerance_for("TRC-005", "grace_days", scope).to_numpy()
    as_of = pd.Timestamp(settings.as_of)
    old_enough = (candidates["receipt_date"] + pd.to_timedelta(grace, unit="D") < as_of).fillna(False).to_numpy(dtype=bool)
    candidates = candidates[old_enough].reset_index(drop=True)
    grace = grace[old_enough]
    if candidates.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    pairs = candidates[["_k_line", "site", "lot"]].reset_index().rename(columns={"index": "receipt_row"}).merge(
        bought[["_k_line", "_k_wo", "item_number"]], on="_k_line")
    issues = data["material_issue"]
    # issues of the item to one of the work orders the line is for (WO code x item code, as integers)
    to_wo = issues[codes_in(issues["_k_wo"], pairs["_k_wo"])]
    item_codes, items = pd.factorize(pd.concat([pairs["item_number"], to_wo["item_number"]], ignore_index=True))
    width = max(len(items), 1) + 1
    pair_key = pairs["_k_wo"].to_numpy(dtype=np.int64) * width + item_codes[:len(pairs)]
    issue_key = to_wo["_k_wo"].to_numpy(dtype=np.int64) * width + item_codes[len(pairs):]
    by_item = pd.Series(pair_key).isin(issue_key).to_numpy() & (item_codes[:len(pairs)] >= 0)
    # issues of the received lot of the item to any work order of the site; only asked for the rare
    # receipts the work order itself did not consume, so the look-up over all issues stays small
    consumed_by_wo = pd.Series(by_item).groupby(pairs["receipt_row"].to_numpy()).transform("any").to_numpy()
    with_lot = pairs["lot"].notna().to_numpy() & ~consumed_by_wo
    of_lot = issues[issues["lot"].isin(pairs.loc[with_lot, "lot"].unique()).fillna(False).to_numpy(dtype=bool)]
    by_lot = np.zeros(len(pairs), dtype=bool)
    if with_lot.any() and len(of_lot):
        mine = pairs[with_lot]
        key = [pd.concat([mine[c], of_lot[c]], ignore_index=True) for c in ("site", "item_number", "lot")]
        joint = pd.MultiIndex.from_arrays(key).factorize()[0]
        by_lot[with_lot] = pd.Series(joint[:len(mine)]).isin(joint[len(mine):]).to_numpy()
    consumed_pair = by_item | by_lot
    consumed = np.zeros(len(candidates), dtype=bool)
    consumed[pairs["receipt_row"].to_numpy()[consumed_pair]] = True
    offending = candidates[~consumed].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    grace = grace[~consumed]

    mine = pairs[pairs["_k_line"].isin(offending["_k_line"])]
    wos_of_line: dict[int, list[int]] = {}
    for k_line, k_wo in zip(mine["_k_line"], mine["_k_wo"]):
        wos_of_line.setdefault(int(k_line), []).append(int(k_wo))
    line_rows = lines[codes_in(lines["_k_line"], offending["_k_line"]) & material].drop_duplicates("_k_line")
    line_records = dict(zip(line_rows["_k_line"].astype(int), records(line_rows, "po_line", _LINE_FIELDS)))
    line_items = dict(zip(line_rows["_k_line"].astype(int), line_rows["item_number"]))
    wo_names = links.drop_duplicates("_k_wo").set_index("_k_wo")["wo_number"]
    wanted_wos = mine["_k_wo"].unique()
    wo_issues = issues[codes_in(issues["_k_wo"], wanted_wos)].sort_values(["issue_date", "issue_id"])
    issue_records = grouped_records(wo_issues.assign(_wo=wo_issues["_k_wo"]), ["_wo"], "material_issue",
                                    _ISSUE_FIELDS, limit=5)

    summaries, evidence, wo_numbers = [], [], []
    own = records(offending, "receipt", _RECEIPT_FIELDS)
    for record, days, k_line, row in zip(own, grace, offending["_k_line"].to_numpy(), offending.itertuples(index=False)):
        k_line = int(k_line)
        item = line_items.get(k_line)
        wo_codes = wos_of_line.get(k_line, [])
        names = [str(wo_names.get(code)) for code in wo_codes]
        lot = f" (lot {row.lot})" if text(row.lot) else ""
        no_lot = f", none of lot {row.lot}" if text(row.lot) else ""
        summaries.append(
            f"Receipt {row.receipt_id} ({row.source_system}, site {row.site}) of {_qty_text(row.qty, row.uom)} of "
            f"item {item}{lot} on {describe_po_line(row.po_number, row.line_number)}, bought for work order "
            f"{', '.join(names)}, was received on {text(row.receipt_date)}, more than {days:g} grace day(s) before "
            f"{as_of.date().isoformat()}, and no material issue consumes it: none of {item} to "
            f"{'that work order' if len(names) == 1 else 'those work orders'}{no_lot}."
        )
        shown = [issue for code in wo_codes for issue in issue_records.get((code,), [])][:10]
        evidence.append(to_json({"records": [record, line_records.get(k_line), *shown],
                                 "as_of": as_of.date().isoformat(), "grace_days": float(days)}))
        wo_numbers.append(names[0] if names else pd.NA)
    return subject_frame(offending, "receipt", wo_number=wo_numbers, po_number=offending["po_number"],
                         line_number=offending["line_number"], summary=summaries, evidence=evidence)

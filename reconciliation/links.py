"""Link rules: references between work orders and PO lines that point at nothing, contradict each
other, or outlive the work they were for.

LNK-001 looks from the PO side (a PO line naming a WO or operation no WO source has), LNK-002 from
the WO side (a work order, operation or asserted link naming a PO line no ERP source has). LNK-003
finds the two sides naming each other and disagreeing, LNK-004 open PO lines of closed or cancelled
work, LNK-005 closed work with PO lines not fully received or invoiced, and LNK-007 outside-processing
operations bought on more than one PO line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    ACTIVE_LINK_STATUSES,
    OP_KEY,
    PO_KEY,
    WO_KEY,
    CanonicalFrames,
    codes_in,
    describe_po_line,
    known,
    flag,
    grouped_records,
    judged_work_orders,
    key_tuples,
    numeric_order,
    quantity_text,
    records,
    rows_matching,
    text,
    to_json,
)

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

_PO_LINE_FIELDS = ("site", "po_number", "line_number", "wo_ref", "op_ref", "status", "description")
_WO_FIELDS = ("site", "wo_number", "kind", "status", "po_ref", "po_line_ref")
_OP_FIELDS = ("site", "wo_number", "op_seq", "status", "is_outside_processing", "po_ref", "po_line_ref")
_HEADER_FIELDS = ("site", "po_number", "status", "supplier_id")
_LINK_FIELDS = ("site", "wo_number", "op_seq", "po_number", "line_number", "status", "asserted_by", "evidence")


def po_line_names_missing_wo(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-001: PO lines whose wo_ref (or wo_ref + op_ref) matches no WO (operation) of their site."""
    lines = data["po_line"]
    named = lines[lines["wo_ref"].notna()].reset_index(drop=True)
    wo_found = codes_in(named["_k_ref_wo"], data["work_order"]["_k_wo"])
    op_found = codes_in(named["_k_ref_op"], data["wo_operation"]["_k_op"])
    missing_wo = pd.Series(~wo_found)
    missing_op = pd.Series(wo_found & named["op_ref"].notna().to_numpy() & ~op_found)
    offending = named[missing_wo | missing_op].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    op_missing = missing_op[missing_wo | missing_op].to_numpy()

    wanted = offending[["site", "wo_ref"]].drop_duplicates().rename(columns={"wo_ref": "wo_number"})
    wos = rows_matching(data["work_order"], wanted, WO_KEY)
    ops = rows_matching(data["wo_operation"], wanted, WO_KEY).sort_values("op_seq", key=numeric_order)
    wo_records = grouped_records(wos, WO_KEY, "work_order", _WO_FIELDS)
    op_lists: dict[tuple, list[str]] = {}
    for key, op_seq in zip(key_tuples(ops, WO_KEY), ops["op_seq"].astype(object)):
        if op_seq is not pd.NA and op_seq not in op_lists.setdefault(key, []):
            op_lists[key].append(op_seq)

    summaries, evidence = [], []
    own = records(offending, "po_line", _PO_LINE_FIELDS)
    for record, key, no_op, row in zip(
        own, key_tuples(offending, ["site", "wo_ref"]), op_missing,
        offending[["site", "source_system", "po_number", "line_number", "wo_ref", "op_ref"]].itertuples(index=False),
    ):
        where = f"{describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.source_system})"
        if no_op:
            existing = op_lists.get(key, [])
            has = f"its operations are {', '.join(existing)}" if existing else "it has no operations"
            summaries.append(
                f"{where} names operation {row.op_ref} of work order {row.wo_ref}; the work order exists "
                f"but has no operation {row.op_ref} ({has})."
            )
            evidence.append(to_json({"records": [record, *wo_records.get(key, [])], "operations_of_wo": existing}))
        else:
            summaries.append(
                f"{where} names work order {row.wo_ref}, which no work-order source of site {row.site} has."
            )
            evidence.append(to_json({"records": [record]}))
    return subject_frame(offending, "po_line", wo_number=offending["wo_ref"], op_seq=offending["op_ref"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _wo_side_assertions(data: CanonicalFrames) -> list[tuple[str, pd.DataFrame, tuple[str, ...]]]:
    """The WO-side references to PO lines, per asserting entity, with (site, po_number, line_number)."""
    out = []
    for name, fields in (("work_order", _WO_FIELDS), ("wo_operation", _OP_FIELDS)):
        rows = data[name]
        rows = rows[rows["po_ref"].notna()].reset_index(drop=True)
        rows = rows.assign(po_number=rows["po_ref"], line_number=rows["po_line_ref"], _k_po=rows["_k_ref_po"],
                           _k_line=rows["_k_ref_line"])
        if name == "work_order":
            rows = rows.assign(op_seq=pd.Series(pd.NA, index=rows.index, dtype=rows["wo_number"].dtype))
        out.append((name, rows, fields))
    links = data["wo_po_link"]
    links = links[links["status"].isin(ACTIVE_LINK_STATUSES)].reset_index(drop=True)
    out.append(("wo_po_link", links, _LINK_FIELDS))
    return out


def _who(name: str, row) -> str:
    if name == "work_order":
        return f"Work order {row.wo_number} (site {row.site}, {row.source_system})"
    if name == "wo_operation":
        return f"Operation {row.op_seq} of work order {row.wo_number} (site {row.site}, {row.source_system})"
    target = f"work order {row.wo_number}" + (f" operation {row.op_seq}" if text(row.op_seq) else "")
    article = "An" if str(row.status)[:1] in "aeiou" else "A"
    return f"{article} {row.status} link of {target} (site {row.site}, {row.source_system})"


def wo_names_missing_po_line(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-002: work orders, operations and asserted/confirmed links naming a PO line nobody has.

    A reference without a line number is satisfied by any line of the named PO.
    """
    po_lines = data["po_line"]
    parts = []
    for name, rows, fields in _wo_side_assertions(data):
        dangling = rows[~data.assertion_resolves(rows)].reset_index(drop=True)
        if dangling.empty:
            continue
        wanted = dangling[PO_KEY].drop_duplicates()
        same_po = rows_matching(po_lines, wanted, PO_KEY).sort_values("line_number", key=numeric_order)
        line_records = grouped_records(same_po, PO_KEY, "po_line", _PO_LINE_FIELDS, limit=10)
        headers = rows_matching(data["purchase_order"], wanted, PO_KEY)
        header_records = grouped_records(headers, PO_KEY, "purchase_order", _HEADER_FIELDS, limit=2)

        summaries, evidence = [], []
        own = records(dangling, name, fields)
        for record, key, row in zip(own, key_tuples(dangling, PO_KEY), dangling.itertuples(index=False)):
            named = describe_po_line(row.po_number, row.line_number)
            existing = [r["line_number"] for r in line_records.get(key, [])]
            if existing:
                lines = ", ".join(map(str, existing))
                gap = f"PO {row.po_number} exists in site {row.site} but has no line {row.line_number} (its lines: {lines})"
            elif key in header_records:
                gap = f"PO {row.po_number} exists in site {row.site} but none of its lines is known"
            else:
                gap = f"no ERP source of site {row.site} has it"
            summaries.append(f"{_who(name, row)} names {named}; {gap}.")
            evidence.append(to_json({"records": [record, *header_records.get(key, []), *line_records.get(key, [])]}))
        parts.append(subject_frame(dangling, name, wo_number=dangling["wo_number"], op_seq=dangling["op_seq"],
                                   po_number=dangling["po_number"], line_number=dangling["line_number"],
                                   summary=summaries, evidence=evidence))
    if not parts:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------- LNK-003 .. LNK-007

#: PO line statuses that still commit money: something can still be received against them
PO_OPEN_STATUSES = ("draft", "open")
#: PO line statuses that settle a line: nothing more is expected, whatever was received
PO_SETTLED_STATUSES = ("closed", "cancelled")
#: work-order statuses after which no purchase is needed any more
WO_ENDED_STATUSES = ("closed", "cancelled")
#: receipts and invoices are summed from decimals, so "fully received" allows for rounding
_QTY_SLACK = 1e-6

_LINE_ID = ["line_system", "line_key"]
_WORK_SIDE = ("work_order", "wo_operation", "wo_po_link")
_WORK_FIELDS = {"work_order": _WO_FIELDS, "wo_operation": _OP_FIELDS, "wo_po_link": _LINK_FIELDS}
_LINE_QTY_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "qty_ordered", "qty_received",
                    "uom", "need_by_date", "wo_ref", "op_ref")
_ENDED_WO_FIELDS = ("site", "wo_number", "kind", "status", "closed_date", "finish_date")
#: the work-order columns LNK-004 and LNK-005 read: key, lineage and the evidence fields
_ENDED_WO_COLUMNS = list(dict.fromkeys((*_ENDED_WO_FIELDS, "_k_wo", "source_system", "source_key")))
_LINES_AT_COLUMNS = list(dict.fromkeys((*_LINE_QTY_FIELDS, "source_system", "source_key", "_k_line")))
_OSP_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "expected_supplier", "qty", "po_ref", "po_line_ref")


def _line_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's lineage renamed to identify PO lines in joins with other entities' lineage."""
    return frame.rename(columns={"source_system": "line_system", "source_key": "line_key"})


def _equal(left: pd.Series, right: pd.Series) -> pd.Series:
    """Element-wise equality where NA on either side is not equal."""
    return (left == right).fillna(False).astype(bool)


def _target(wo_number, op_seq) -> str:
    """'operation 30 of work order 1001', or 'work order 1001' when no operation is named."""
    return f"operation {op_seq} of work order {wo_number}" if text(op_seq) else f"work order {wo_number}"


def _asserter(via: str, source_system: str, source_key: str, wo_number, op_seq) -> str:
    """Who on the work side asserts a link, for a summary sentence."""
    if via == "wo_po_link":
        return f"link {source_key} ({source_system}) of {_target(wo_number, op_seq)}"
    return f"{_target(wo_number, op_seq)} ({source_system})"


def _work_side_records(pairs: pd.DataFrame, data: CanonicalFrames) -> dict[tuple, dict]:
    """The work-side rows behind assertions (columns via, w_system, w_key) as evidence records."""
    out: dict[tuple, dict] = {}
    for name in _WORK_SIDE:
        wanted = pairs.loc[pairs["via"] == name, ["w_system", "w_key"]].drop_duplicates()
        if wanted.empty:
            continue
        rows = rows_matching(data[name], wanted.rename(columns={"w_system": "source_system", "w_key": "source_key"}),
                             ["source_system", "source_key"])
        for record in records(rows, name, _WORK_FIELDS[name]):
            out.setdefault((name, record["source_system"], record["source_key"]), record)
    return out


def links_disagree(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-003: PO lines whose work reference and the work side's PO reference contradict each other.

    A PO line naming a work order (and operation) disagrees with the work side when either

    - a work order, operation or asserted/confirmed link names this very line (by line number) but
      is about other work than the line names (another WO, or another operation of the same WO); or
    - the operation the line names (or, for a line naming only a WO, the work order) names PO lines,
      and none of them is this line.

    A reference that names only a PO is compatible with every line of it, and a side that names
    nothing does not disagree: that is a one-sided link, not a contradiction.
    """
    lines = data["po_line"]
    naming_rows = np.flatnonzero(lines["wo_ref"].notna().to_numpy())
    naming = pd.DataFrame({"line_row": naming_rows, "line_wo": lines["_k_ref_wo"].to_numpy()[naming_rows],
                           "line_op": lines["_k_ref_op"].to_numpy()[naming_rows],
                           "line_po": lines["_k_po"].to_numpy()[naming_rows],
                           "line_line": lines["_k_line"].to_numpy()[naming_rows],
                           "names_op": lines["op_ref"].notna().to_numpy()[naming_rows]})
    work = data.link_assertions
    work_rows = np.flatnonzero(work["via"].isin(_WORK_SIDE).to_numpy())
    work = pd.DataFrame({"work_row": work_rows, "_k_wo": work["_k_wo"].to_numpy()[work_rows],
                         "_k_op": work["_k_op"].to_numpy()[work_rows], "_k_po": work["_k_po"].to_numpy()[work_rows],
                         "_k_line": work["_k_line"].to_numpy()[work_rows],
                         "names_line": work["line_number"].notna().to_numpy()[work_rows],
                         "names_op": work["op_seq"].notna().to_numpy()[work_rows]})

    # the work side names this line, the line names other work (same WO and, where both name one, same op)
    named_back = work[work["names_line"] & known(work["_k_line"])].merge(
        naming[known(naming["line_line"])], left_on="_k_line", right_on="line_line", suffixes=("", "_line"))
    both_ops = named_back["names_op"] & named_back["names_op_line"]
    same_work = (named_back["_k_wo"] == named_back["line_wo"]) & known(named_back["_k_wo"]) & (
        ~both_ops | (named_back["_k_op"] == named_back["line_op"]))
    elsewhere = named_back.loc[~same_work, ["line_row", "work_row"]].assign(kind="names_this_line")

    # the work the line names, names other lines: an operation-level reference answers a line naming
    # that operation, a work-order-level one a line naming only the work order
    on_op = naming[naming["names_op"] & known(naming["line_op"])].merge(
        work[work["names_op"] & known(work["_k_op"])], left_on="line_op", right_on="_k_op", suffixes=("_line", ""))
    on_wo = naming[~naming["names_op"] & known(naming["line_wo"])].merge(
        work[~work["names_op"] & known(work["_k_wo"])], left_on="line_wo", right_on="_k_wo", suffixes=("_line", ""))
    answered = pd.concat([on_op, on_wo], ignore_index=True)
    covers = (answered["_k_po"] == answered["line_po"]) & known(answered["_k_po"]) & (
        ~answered["names_line"] | (answered["_k_line"] == answered["line_line"]))
    covered = covers.groupby(answered["line_row"]).transform("any") if len(answered) else covers
    other_lines = answered.loc[~covered.astype(bool).to_numpy(), ["line_row", "work_row"]].assign(
        kind="names_other_lines")

    pairs = pd.concat([elsewhere, other_lines], ignore_index=True)
    if pairs.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    asserted = data.link_assertions.take(pairs["work_row"].to_numpy()).reset_index(drop=True)
    pairs = pd.DataFrame({
        "line_row": pairs["line_row"].to_numpy(), "kind": pairs["kind"].to_numpy(),
        "via": asserted["via"].to_numpy(), "w_system": asserted["source_system"].to_numpy(),
        "w_key": asserted["source_key"].to_numpy(), "wo_number": asserted["wo_number"].to_numpy(),
        "op_seq": asserted["op_seq"].to_numpy(), "named_po": asserted["po_number"].to_numpy(),
        "named_line": asserted["line_number"].to_numpy()})
    # the line names the work in this pair; the work names other lines
    answering = (pairs["kind"] == "names_other_lines").to_numpy()
    line_of_pair = lines.take(pairs["line_row"].to_numpy())
    pairs.loc[answering, "wo_number"] = line_of_pair["wo_ref"].to_numpy()[answering]
    pairs.loc[answering, "op_seq"] = line_of_pair["op_ref"].to_numpy()[answering]
    pairs = pairs.sort_values(["line_row", "kind", "w_system", "w_key"], kind="stable")
    offending = lines.take(np.unique(pairs["line_row"].to_numpy())).reset_index(drop=True)
    offending_rows = np.unique(pairs["line_row"].to_numpy())
    work_records = _work_side_records(pairs, data)
    found: dict[int, tuple[list[str], list[dict]]] = {}
    for row in pairs.itertuples(index=False):
        notes, shown = found.setdefault(row.line_row, ([], []))
        who = _asserter(row.via, row.w_system, row.w_key, row.wo_number, row.op_seq)
        if row.kind == "names_this_line":
            notes.append(f"{who} names this line")
        else:
            notes.append(f"{who} names {describe_po_line(row.named_po, row.named_line)} instead")
        record = work_records.get((row.via, row.w_system, row.w_key))
        if record is not None and record not in shown:
            shown.append(record)

    summaries, evidence = [], []
    own = records(offending, "po_line", _PO_LINE_FIELDS)
    for record, line_row, row in zip(own, offending_rows, offending.itertuples(index=False)):
        notes, shown = found[line_row]
        summaries.append(
            f"{describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.source_system}) names "
            f"{_target(row.wo_ref, row.op_ref)}, but {'; '.join(dict.fromkeys(notes))}."
        )
        evidence.append(to_json({"records": [record, *shown[:20]]}))
    return subject_frame(offending, "po_line", wo_number=offending["wo_ref"], op_seq=offending["op_ref"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _lines_of_work(data: CanonicalFrames, wos: pd.DataFrame) -> pd.DataFrame:
    """(work order row, PO line) pairs for the given WO rows (with their ``_k_wo``) and every PO line
    linked to their WO from any side; columns are the WO row's own plus the PO line's position in
    ``data["po_line"]`` (``line_row``) and its line_system/line_key."""
    links = data.wo_line_pairs.rename(columns={"po_row": "line_row"})
    pairs = wos[known(wos["_k_wo"])].merge(links, on="_k_wo")
    lines = data["po_line"]
    rows = pairs["line_row"].to_numpy()
    return pairs.assign(line_system=lines["source_system"].take(rows).to_numpy(),
                        line_key=lines["source_key"].take(rows).to_numpy())


def _lines_at(data: CanonicalFrames, rows: np.ndarray, mask: np.ndarray | None = None) -> pd.DataFrame:
    """The PO lines at the given positions (each once, in table order), optionally only where ``mask``
    (over the whole table) holds; lineage renamed as in ``_line_ids`` and the position as ``line_row``."""
    rows = np.unique(rows)
    if mask is not None:
        rows = rows[mask[rows]]
    # only the columns LNK-004 and LNK-005 read: the PO line frame is wide
    return _line_ids(data["po_line"][_LINES_AT_COLUMNS].take(rows)).assign(line_row=rows).reset_index(drop=True)


def open_line_of_ended_wo(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-004: draft or open PO lines linked to a work order that was closed or cancelled more than
    ``grace_days`` before the as-of date.

    The WO ended on its closed date, else its finish date; a date after the as-of date is a plan,
    not an end. Without either the end date is unknown, the grace cannot run and the line is reported.
    A work order the MES or CMMS holds is judged on that copy, not on an ERP's copy of it.
    """
    grace_days = int(settings.tolerance("LNK-004", "grace_days"))
    as_of = pd.Timestamp(settings.as_of)
    wos = data["work_order"]
    # an ERP's copy of a WO the MES or CMMS holds does not end it: the copy of the system running it does
    ended = judged_work_orders(wos, settings.sources_with_role("erp"), WO_ENDED_STATUSES, _ENDED_WO_COLUMNS)
    ended_on = ended["closed_date"].fillna(ended["finish_date"])
    ended = ended.assign(ended_on=ended_on.where(ended_on <= as_of))
    overdue = ended["ended_on"].isna() | (ended["ended_on"] + pd.Timedelta(days=grace_days) < as_of).fillna(False)
    ended = ended[overdue.astype(bool)]
    pairs = _lines_of_work(data, ended[[*WO_KEY, "_k_wo", "source_system", "source_key", "status", "ended_on"]].rename(
        columns={"source_system": "wo_system", "source_key": "wo_key", "status": "wo_status"}))
    lines = data["po_line"]
    offending = _lines_at(data, pairs["line_row"].to_numpy(), lines["status"].isin(PO_OPEN_STATUSES).to_numpy())
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    pairs = pairs[pairs["line_row"].isin(offending["line_row"])].sort_values([*_LINE_ID, "wo_system", "wo_key"],
                                                                              kind="stable")
    wo_rows = rows_matching(ended, pairs[["wo_system", "wo_key"]].drop_duplicates().rename(
        columns={"wo_system": "source_system", "wo_key": "source_key"}), ["source_system", "source_key"])
    wo_records = {(r["source_system"], r["source_key"]): r for r in records(wo_rows, "work_order", _ENDED_WO_FIELDS)}
    by_line: dict[tuple, list] = {}
    for row in pairs.itertuples(index=False):
        by_line.setdefault((row.line_system, row.line_key), []).append(row)

    summaries, evidence, wo_numbers = [], [], []
    own = records(offending.rename(columns={"line_system": "source_system", "line_key": "source_key"}), "po_line",
                  _LINE_QTY_FIELDS)
    for record, row in zip(own, offending.itertuples(index=False)):
        ends = by_line[(row.line_system, row.line_key)]
        said = []
        for end in ends:
            when = f"on {text(end.ended_on)}" if text(end.ended_on) else "on an unknown date"
            said.append(f"work order {end.wo_number} ({end.wo_system}) was {end.wo_status} {when}")
        grace = f", more than {grace_days} grace day(s) before {as_of.date().isoformat()}" if grace_days else ""
        summaries.append(
            f"{describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.line_system}) is still "
            f"{row.status} although {'; '.join(dict.fromkeys(said))}{grace}: the commitment is orphaned."
        )
        evidence.append(to_json({
            "records": [record, *(wo_records[(e.wo_system, e.wo_key)] for e in ends[:10])],
            "as_of": as_of.date().isoformat(), "grace_days": grace_days,
        }))
        wo_numbers.append(ends[0].wo_number)
    offending = offending.rename(columns={"line_system": "source_system", "line_key": "source_key"})
    return subject_frame(offending, "po_line", wo_number=wo_numbers, op_seq=offending["op_ref"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _received_and_invoiced(data: CanonicalFrames, lines: pd.DataFrame) -> pd.DataFrame:
    """Quantity received and invoiced of each of ``lines`` (aligned with it), in the line's unit, as
    ``CanonicalFrames.line_totals`` counts them: NaN where unknown, which is never read as enough."""
    totals = data.line_totals
    at = pd.Index(totals["_k_line"]).get_indexer(lines["_k_line"])
    found = at >= 0
    out = {}
    for column in ("received", "invoiced"):
        values = np.full(len(lines), np.nan)
        values[found] = totals[column].to_numpy()[at[found]]
        out[column] = values
    return pd.DataFrame(out, index=lines.index)


def closed_wo_with_unsettled_line(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-005: closed work orders with a linked PO line not fully received or not fully invoiced.

    A linked line (from any side) that the buyer has not closed or cancelled is short when what is
    received, or what is invoiced, is below its ordered quantity less ``qty_tolerance_pct`` percent.
    Lines closed or cancelled are settled on purpose (short closes included) and are not reported.
    A work order the MES or CMMS holds is judged on that copy, not on an ERP's copy of it.
    """
    tolerance = float(settings.tolerance("LNK-005", "qty_tolerance_pct"))
    wos = data["work_order"]
    # an ERP's copy of a WO the MES or CMMS holds is judged on that copy, once
    closed = judged_work_orders(wos, settings.sources_with_role("erp"), ["closed"], _ENDED_WO_COLUMNS)
    pairs = _lines_of_work(data, closed[[*WO_KEY, "_k_wo", "source_system", "source_key"]].rename(
        columns={"source_system": "wo_system", "source_key": "wo_key"}))
    lines = data["po_line"]
    unsettled = _lines_at(data, pairs["line_row"].to_numpy(), ~lines["status"].isin(PO_SETTLED_STATUSES).to_numpy())
    if unsettled.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    unsettled = pd.concat([unsettled, _received_and_invoiced(data, unsettled)], axis=1)
    needed = unsettled["qty_ordered"] * (1.0 - tolerance / 100.0) - _QTY_SLACK
    # NaN (unknown) compares False, so an unknown quantity is never enough
    short_received = ~(unsettled["received"] >= needed)
    short_invoiced = ~(unsettled["invoiced"] >= needed)
    # a line without an ordered quantity cannot be judged short; the mapping requires one
    judged = unsettled["qty_ordered"].notna()
    short = unsettled[judged & (short_received | short_invoiced)]
    if short.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    pairs = pairs[pairs["line_row"].isin(short["line_row"])]
    offending = rows_matching(closed, pairs[["wo_system", "wo_key"]].drop_duplicates().rename(
        columns={"wo_system": "source_system", "wo_key": "source_key"}), ["source_system", "source_key"]).reset_index(drop=True)
    short = short.sort_values(["line_number"], key=numeric_order, kind="stable").sort_values("po_number", kind="stable")
    line_records = {(r["source_system"], r["source_key"]): r for r in records(
        short.rename(columns={"line_system": "source_system", "line_key": "source_key"}), "po_line", _LINE_QTY_FIELDS)}
    figures = {key: row for key, row in zip(key_tuples(short, _LINE_ID), short.itertuples(index=False))}
    lines_of_wo: dict[tuple, list[tuple]] = {}
    for wo_key, line_key in zip(key_tuples(pairs, ["wo_system", "wo_key"]), key_tuples(pairs, _LINE_ID)):
        if line_key not in lines_of_wo.setdefault(wo_key, []):
            lines_of_wo[wo_key].append(line_key)

    summaries, evidence, po_numbers, line_numbers = [], [], [], []
    own = records(offending, "work_order", _ENDED_WO_FIELDS)
    for record, key, row in zip(own, key_tuples(offending, ["source_system", "source_key"]), offending.itertuples(index=False)):
        gaps, shown, quantities = [], [], []
        for line_key in lines_of_wo[key]:
            line = figures[line_key]
            missing = [f"{what} {quantity_text(value) if text(value) else 'an unknown quantity'}"
                       for what, value in (("received", line.received), ("invoiced", line.invoiced))]
            gaps.append(f"{describe_po_line(line.po_number, line.line_number)} ({line.status}, {line.line_system}) ordered "
                        f"{quantity_text(line.qty_ordered)}{' ' + line.uom if text(line.uom) else ''}, {' and '.join(missing)}")
            shown.append(line_records[line_key])
            quantities.append({"po_number": line.po_number, "line_number": line.line_number,
                               **{name: _known(getattr(line, name)) for name in ("qty_ordered", "received", "invoiced")}})
        within = f" (tolerance {tolerance:g}%)" if tolerance else ""
        summaries.append(
            f"Work order {row.wo_number} (site {row.site}, {row.source_system}) is closed while "
            f"{'; '.join(gaps)}{within}."
        )
        evidence.append(to_json({"records": [record, *shown[:10]], "quantities": quantities[:10],
                                 "qty_tolerance_pct": tolerance}))
        po_numbers.append(figures[lines_of_wo[key][0]].po_number)
        line_numbers.append(figures[lines_of_wo[key][0]].line_number)
    return subject_frame(offending, "work_order", wo_number=offending["wo_number"], po_number=po_numbers,
                         line_number=line_numbers, summary=summaries, evidence=evidence)


def _known(value) -> float | None:
    """A quantity for evidence: None when unknown (JSON has no NaN)."""
    return float(value) if text(value) and value == value else None


def osp_operation_bought_twice(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """LNK-007: outside-processing operations linked at operation level to more active PO lines than
    ``max_active_lines`` allows (1 by default; per process and site).

    Active means not cancelled: a closed line was bought all the same. The same line held by two
    sources (same site, PO and line number) counts once. A process with a rework loop (parts sent
    back to the heat treater after a failed hardness test, bought on a new line) is allowed more
    lines through an override of ``max_active_lines`` for that process.
    """
    ops = data["wo_operation"]
    osp_ops = ops[flag(ops["is_outside_processing"])]
    lines = data["po_line"]
    links = data.op_links
    active = (lines["status"] != "cancelled").fillna(True).to_numpy(dtype=bool)
    links = links[codes_in(links["_k_op"], osp_ops["_k_op"]) & active[links["po_row"].to_numpy()]]
    distinct = links.drop_duplicates(["_k_op", "_k_line"])
    counts = distinct.groupby("_k_op", sort=False).size()
    several = counts[counts >= 2].rename("active_lines").reset_index()
    # the allowance is the operation's own (its process and site); the same op from two sources
    # counts with the larger allowance of the two
    allowed = osp_ops.loc[codes_in(osp_ops["_k_op"], several["_k_op"]), ["_k_op", "site", "process"]]
    allowed = allowed.assign(max_active_lines=settings.tolerance_for("LNK-007", "max_active_lines", allowed).to_numpy())
    allowed = allowed.groupby("_k_op", sort=False)["max_active_lines"].max().reset_index()
    several = several.merge(allowed, on="_k_op")
    twice = several.loc[several["active_lines"] > several["max_active_lines"], ["_k_op"]]
    offending = osp_ops.merge(several.merge(twice, on="_k_op"), on="_k_op").reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    bought = distinct.merge(twice, on="_k_op").rename(
        columns={"po_source_system": "line_system", "po_source_key": "line_key"})
    # an operation's lines are of its own site (links match by site), so the line's site stands for both
    line_rows = _line_ids(lines).merge(bought[["wo_number", "op_seq", *_LINE_ID]], on=_LINE_ID).rename(
        columns={"line_system": "source_system", "line_key": "source_key"})
    line_rows = line_rows.sort_values(["po_number"], kind="stable")
    line_records = grouped_records(line_rows.rename(columns={"wo_number": "op_wo", "op_seq": "op_op"}),
                                   ["site", "op_wo", "op_op"], "po_line", _LINE_QTY_FIELDS, limit=10)
    summaries, evidence = [], []
    own = records(offending, "wo_operation", _OSP_OP_FIELDS)
    for record, key, row in zip(own, key_tuples(offending, OP_KEY), offending.itertuples(index=False)):
        bought_by = line_records.get(key, [])
        named = ", ".join(f"{describe_po_line(r['po_number'], r['line_number'])} ({r['status']}, {r['source_system']})"
                          for r in bought_by)
        process = f" ({row.process})" if text(row.process) else ""
        summaries.append(
            f"Outside-processing operation {row.op_seq}{process} of work order {row.wo_number} (site {row.site}, "
            f"{row.source_system}) is linked to {len(bought_by)} active PO lines: {named}. The work may be bought "
            f"twice{_allowance(row.max_active_lines)}."
        )
        evidence.append(to_json({"records": [record, *bought_by], "max_active_lines": int(row.max_active_lines)}))
    first = line_rows.drop_duplicates(OP_KEY)[[*OP_KEY, "po_number", "line_number"]]
    offending = offending.drop(columns=["po_number", "line_number"], errors="ignore").merge(first, how="left", on=OP_KEY)
    return subject_frame(offending, "wo_operation", wo_number=offending["wo_number"], op_seq=offending["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _allowance(max_active_lines: float) -> str:
    """', at most N are allowed for a rework loop' when the allowance is above one line."""
    return f" (at most {int(max_active_lines)} are allowed for a rework loop)" if max_active_lines > 1 else ""

"""Link rules: references between work orders and PO lines that point at nothing.

LNK-001 looks from the PO side (a PO line naming a WO or operation no WO source has), LNK-002 from
the WO side (a work order, operation or asserted link naming a PO line no ERP source has).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    ACTIVE_LINK_STATUSES,
    OP_KEY,
    PO_KEY,
    WO_KEY,
    CanonicalFrames,
    describe_po_line,
    grouped_records,
    key_tuples,
    keys_in,
    numeric_order,
    records,
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
    wo_found = keys_in(named, data["work_order"], ["site", "wo_ref"], WO_KEY)
    op_found = keys_in(named, data["wo_operation"], ["site", "wo_ref", "op_ref"], OP_KEY)
    missing_wo = ~wo_found
    missing_op = wo_found & named["op_ref"].notna() & ~op_found
    offending = named[missing_wo | missing_op].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    op_missing = missing_op[missing_wo | missing_op].to_numpy()

    wanted = offending[["site", "wo_ref"]].drop_duplicates().rename(columns={"wo_ref": "wo_number"})
    wos = data["work_order"].merge(wanted, on=WO_KEY)
    ops = data["wo_operation"].merge(wanted, on=WO_KEY).sort_values("op_seq", key=numeric_order)
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
        rows = rows.assign(po_number=rows["po_ref"], line_number=rows["po_line_ref"])
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
        same_po = po_lines.merge(wanted, on=PO_KEY).sort_values("line_number", key=numeric_order)
        line_records = grouped_records(same_po, PO_KEY, "po_line", _PO_LINE_FIELDS, limit=10)
        headers = data["purchase_order"].merge(wanted, on=PO_KEY)
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

"""Outside-processing rules: OSP operations and the PO lines that pay the outside processor.

An OSP operation's PO line is one linked at operation level: the PO line naming the operation
(``wo_ref`` + ``op_ref``), the operation naming the PO line (``po_ref``/``po_line_ref``), or an
asserted/confirmed ``wo_po_link`` for the operation. A work order naming a PO is not enough, since it
does not say which operation the PO pays for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    ACTIVE_LINK_STATUSES,
    OP_KEY,
    PO_LINE_KEY,
    WO_KEY,
    CanonicalFrames,
    codes_in,
    describe_po_line,
    flag,
    grouped_records,
    key_tuples,
    keys_in,
    records,
    text,
    to_json,
)

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

#: operation statuses in which the outside processor may be working, so a PO must exist
OSP_ACTIVE_STATUSES = ("released", "in_progress", "completed", "closed")
#: PO line statuses after which nothing more is expected from the supplier
PO_DONE_STATUSES = ("closed", "cancelled")

_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "expected_supplier", "qty", "po_ref", "po_line_ref")
_PO_LINE_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "qty_ordered", "qty_received",
                   "need_by_date", "wo_ref", "op_ref")


def osp_operation_without_po_line(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-001: OSP operations released or later with no existing PO line linked at operation level."""
    ops = data["wo_operation"]
    candidates = ops[flag(ops["is_outside_processing"]) & ops["status"].isin(OSP_ACTIVE_STATUSES)]
    offending = candidates[~codes_in(candidates["_k_op"], data.op_links["_k_op"])].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    links = data["wo_po_link"]
    links = links[links["status"].isin(ACTIVE_LINK_STATUSES).to_numpy() & codes_in(links["_k_op"], offending["_k_op"])]
    link_records = grouped_records(links, OP_KEY, "wo_po_link", ("po_number", "line_number", "status", "asserted_by"), limit=5)
    lines = data["po_line"]
    # lines naming the work order without an operation are the likely candidates for a steward
    lines_naming_wo = lines[lines["op_ref"].isna().to_numpy() & codes_in(lines["_k_ref_wo"], offending["_k_wo"])]
    wo_line_records = grouped_records(lines_naming_wo, ["site", "wo_ref"], "po_line", _PO_LINE_FIELDS, limit=5)

    summaries, evidence = [], []
    own = records(offending, "wo_operation", _OP_FIELDS)
    for record, op_key, wo_key, row in zip(own, key_tuples(offending, OP_KEY), key_tuples(offending, WO_KEY),
                                           offending.itertuples(index=False)):
        process = f" ({row.process})" if text(row.process) else ""
        notes = []
        if text(row.po_ref):
            notes.append(f"the {describe_po_line(row.po_ref, row.po_line_ref)} it names does not exist")
        for link in link_records.get(op_key, []):
            named = describe_po_line(link["po_number"], link["line_number"])
            notes.append(f"its {link['status']} link names {named}, which does not exist")
        other_lines = wo_line_records.get(wo_key, [])
        if other_lines:
            named = ", ".join(describe_po_line(r["po_number"], r["line_number"]) for r in other_lines)
            verb = "names" if len(other_lines) == 1 else "name"
            notes.append(f"{named} {verb} the work order without an operation")
        detail = f"; {'; '.join(notes)}" if notes else ""
        summaries.append(
            f"Outside-processing operation {row.op_seq}{process} of work order {row.wo_number} (site {row.site}, "
            f"{row.source_system}) is {row.status} but no PO line is linked to it{detail}."
        )
        evidence.append(to_json({"records": [record, *link_records.get(op_key, []), *other_lines]}))
    return subject_frame(offending, "wo_operation", wo_number=offending["wo_number"], op_seq=offending["op_seq"],
                         po_number=offending["po_ref"], line_number=offending["po_line_ref"],
                         summary=summaries, evidence=evidence)


def osp_po_line_overdue(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-005: open OSP PO lines past need-by date plus grace days with no receipt of a positive qty."""
    grace_days = int(settings.tolerance("OSP-005", "grace_days"))
    as_of = pd.Timestamp(settings.as_of)
    ops = data["wo_operation"]
    osp_ops = ops[flag(ops["is_outside_processing"])]
    osp_links = data.op_links[codes_in(data.op_links["_k_op"], osp_ops["_k_op"])]
    lines = data["po_line"].take(np.unique(osp_links["po_row"].to_numpy()))
    overdue = (
        ~lines["status"].isin(PO_DONE_STATUSES)
        & lines["need_by_date"].notna()
        & (lines["need_by_date"] + pd.Timedelta(days=grace_days) < as_of).fillna(False).astype(bool)
    )
    receipts = data["receipt"]
    received = pd.Series(codes_in(lines["_k_line"], receipts.loc[(receipts["qty"] > 0).fillna(False), "_k_line"]),
                         index=lines.index)
    offending = lines[overdue & ~received].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    receipts_of = receipts.merge(offending[PO_LINE_KEY].drop_duplicates(), on=PO_LINE_KEY)
    receipt_records = grouped_records(receipts_of, PO_LINE_KEY, "receipt", ("qty", "receipt_date"), limit=5)
    line_ops = osp_links.rename(columns={"po_source_system": "line_system", "po_source_key": "line_key"})
    line_ops = line_ops[["line_system", "line_key", *OP_KEY]].merge(
        offending[["source_system", "source_key"]].rename(columns={"source_system": "line_system", "source_key": "line_key"}),
        on=["line_system", "line_key"],
    )
    op_rows = line_ops.merge(osp_ops, on=OP_KEY).sort_values(["line_system", "line_key", "wo_number", "op_seq"])
    op_records = grouped_records(op_rows, ["line_system", "line_key"], "wo_operation", _OP_FIELDS, limit=5)

    summaries, evidence = [], []
    own = records(offending, "po_line", _PO_LINE_FIELDS)
    for record, line_key, own_key, row in zip(own, key_tuples(offending, PO_LINE_KEY),
                                              key_tuples(offending, ["source_system", "source_key"]),
                                              offending.itertuples(index=False)):
        ops_of_line = op_records.get(own_key, [])
        # the same operation may come from two sources; name it once
        for_ops = ", ".join(dict.fromkeys(f"operation {o['op_seq']} of work order {o['wo_number']}" for o in ops_of_line))
        nothing = "nothing has been received" if line_key not in receipt_records else "no receipt has a positive quantity"
        grace = f" plus {grace_days} grace day(s)" if grace_days else ""
        summaries.append(
            f"Outside-processing {describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.source_system}) "
            f"for {for_ops} was needed by {text(row.need_by_date)}{grace}; {nothing} as of {as_of.date().isoformat()}."
        )
        evidence.append(to_json({
            "records": [record, *ops_of_line, *receipt_records.get(line_key, [])],
            "as_of": as_of.date().isoformat(), "grace_days": grace_days,
        }))
    first_op = op_rows.drop_duplicates(["line_system", "line_key"])[["line_system", "line_key", "wo_number", "op_seq"]]
    first_op.columns = ["source_system", "source_key", "op_wo_number", "op_seq"]
    offending = offending.merge(first_op, how="left", on=["source_system", "source_key"])
    return subject_frame(offending, "po_line", wo_number=offending["op_wo_number"], op_seq=offending["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)

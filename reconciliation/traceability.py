"""Traceability rules: what an auditor needs to see recorded before work is called done."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    WO_KEY,
    CanonicalFrames,
    flag,
    grouped_records,
    key_tuples,
    numeric_order,
    records,
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
    site and WO number across sources).
    """
    wos = data["work_order"]
    done = wos[wos["status"].isin(WO_DONE_STATUSES)].reset_index(drop=True)
    ops = data["wo_operation"]
    unsigned_ops = ops[_unsigned(ops)].merge(done[WO_KEY].drop_duplicates(), on=WO_KEY)
    unsigned_ops = unsigned_ops.sort_values("op_seq", key=numeric_order)
    op_records = grouped_records(unsigned_ops, WO_KEY, "wo_operation", _OP_FIELDS, limit=50)
    wo_unsigned = _unsigned(done).to_numpy()
    keys = key_tuples(done, WO_KEY)
    offending_mask = np.fromiter((own or key in op_records for own, key in zip(wo_unsigned, keys)), dtype=bool, count=len(keys))
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

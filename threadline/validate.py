"""The validate stage: row-level checks derived from the canonical model.

Required fields present, values inside the field's allowed set, and one row per source key in a
batch. Failing rows are quarantined with the check and reason, never loaded. Vectorized masks:
a whole batch is checked at once.
"""

from __future__ import annotations

import json

import pandas as pd

from mappings.canonical import Entity
from mappings.engine import QUARANTINE_COLUMNS


def validate_batch(entity: Entity, mapped: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a mapped batch into rows that pass and quarantined rows (first failed check per row)."""
    failed_any = pd.Series(False, index=mapped.index)
    parts = []

    def add(mask: pd.Series, field: str, check: str, reason) -> None:
        nonlocal failed_any
        new = mask.fillna(False).astype(bool) & ~failed_any
        if not new.any():
            return
        failed_any |= new
        rows = mapped.loc[new]
        parts.append(pd.DataFrame({
            "row": rows.index,
            "source_key": rows["source_key"].astype(object).to_numpy(),
            "field": field,
            "column": field,
            "raw_value": rows[field].astype("string").astype(object).to_numpy() if field in rows else None,
            "check": check,
            "reason": reason if isinstance(reason, str) else reason(rows).to_numpy(),
        }))

    for f in entity.fields:
        if f.required:
            add(mapped[f.name].isna(), f.name, "required", f"{entity.name}.{f.name} is required but empty")
    for f in entity.fields:
        if f.allowed:
            values = mapped[f.name]
            add(values.notna() & ~values.isin(f.allowed), f.name, "allowed_values",
                lambda rows, f=f: f"{entity.name}.{f.name} " + rows[f.name].astype("string")
                + f" is not one of: {', '.join(f.allowed)}")
    duplicated = mapped["source_key"].duplicated(keep=False)
    add(duplicated, "source_key", "unique_key",
        f"{entity.name}: the source key occurs more than once in this batch; all copies are held back")

    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
        return mapped, empty
    quarantined = pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")
    quarantined["record"] = [json.dumps(r, default=str) for r in
                             mapped.loc[quarantined["row"]].to_dict(orient="records")]
    return mapped.loc[~failed_any].reset_index(drop=True), quarantined.reset_index(drop=True)[list(QUARANTINE_COLUMNS)]

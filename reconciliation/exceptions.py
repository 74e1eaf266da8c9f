"""Findings: the rows a rule returns, and their stable exception ids.

An exception id is a hash of the rule id and the subject's identity (entity, source system, source
key), so a re-run finds the same id and updates the exception instead of duplicating it. The
warehouse, the steward queue and the demo manifest rely on exactly this formula: never change it.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from reconciliation.catalogue import rule

FINDING_COLUMNS = (
    "exception_id", "rule_id", "severity", "site", "subject_entity", "subject_source_system",
    "subject_source_key", "wo_number", "op_seq", "po_number", "line_number", "summary", "evidence",
)
#: what a rule hands over; the rule id, severity and exception id are added here
SUBJECT_COLUMNS = tuple(c for c in FINDING_COLUMNS if c not in ("exception_id", "rule_id", "severity"))

_TEXT = pd.StringDtype("pyarrow")


def exception_id(rule_id: str, subject_entity: str, source_system: str, source_key: str) -> str:
    """The stable id of the exception a rule raises about one subject row.

    ``"EX-"`` followed by the first 16 hex digits of the SHA-1 of
    ``"rule_id|subject_entity|source_system|source_key"``.
    """
    text = f"{rule_id}|{subject_entity}|{source_system}|{source_key}"
    return "EX-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def exception_ids(rule_id: str, subject_entity: pd.Series, source_system: pd.Series, source_key: pd.Series) -> list[str]:
    """``exception_id`` for aligned columns of subjects (NA parts hash as empty text)."""
    parts = [s.astype(object).where(s.notna(), "") for s in (subject_entity, source_system, source_key)]
    return [exception_id(rule_id, e, sys, key) for e, sys, key in zip(*parts)]


def empty_findings() -> pd.DataFrame:
    """A findings frame without rows."""
    return pd.DataFrame({c: pd.Series(dtype=_TEXT) for c in FINDING_COLUMNS})


def subject_frame(rows: pd.DataFrame, entity: str | pd.Series, *, wo_number=pd.NA, op_seq=pd.NA,
             po_number=pd.NA, line_number=pd.NA, summary, evidence) -> pd.DataFrame:
    """A rule's offending rows as subjects (``SUBJECT_COLUMNS``): each row's site and lineage name
    the subject; the keys shown with the exception are given explicitly (empty when not given)."""
    return pd.DataFrame({
        "site": rows["site"], "subject_entity": entity,
        "subject_source_system": rows["source_system"], "subject_source_key": rows["source_key"],
        "wo_number": wo_number, "op_seq": op_seq, "po_number": po_number, "line_number": line_number,
        "summary": summary, "evidence": evidence,
    })


def make_findings(rule_id: str, subjects: pd.DataFrame) -> pd.DataFrame:
    """Turn a rule's offending rows into findings: id, rule id and catalogue severity added.

    ``subjects`` has the ``SUBJECT_COLUMNS`` (key columns a rule does not know may be absent). A
    subject reported twice by the same rule is kept once (the first row), since it is one exception.
    """
    if subjects.empty:
        return empty_findings()
    severity = rule(rule_id).severity
    out = pd.DataFrame(index=subjects.index)
    for column in SUBJECT_COLUMNS:
        if column in subjects:
            out[column] = subjects[column].astype(_TEXT)
        else:
            out[column] = pd.Series(pd.NA, index=subjects.index, dtype=_TEXT)
    out["rule_id"] = pd.Series(rule_id, index=out.index, dtype=_TEXT)
    out["severity"] = pd.Series(severity, index=out.index, dtype=_TEXT)
    out["exception_id"] = pd.Series(
        exception_ids(rule_id, out["subject_entity"], out["subject_source_system"], out["subject_source_key"]),
        index=out.index, dtype=_TEXT,
    )
    out = out.drop_duplicates("exception_id")
    return out[list(FINDING_COLUMNS)].reset_index(drop=True)

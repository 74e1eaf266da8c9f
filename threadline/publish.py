"""Publish: exceptions with their lifecycle, and the cost roll-up with its drill-down lines.

An exception's id is a hash of its rule and subject, so a re-run updates it instead of adding a
copy. New findings open; a resolved exception that is found again reopens; a waived one whose
evidence changed or whose waiver expired (the day after ``waiver_until``) reopens; an open or
acknowledged one, or one whose waiver expired, that is no longer found is resolved as "cleared by
data". Every status change is an append-only event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select

from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, insert_rows, lock_for_write, upsert, utcnow

SYSTEM_ACTOR = "threadline"
#: what a steward set (threadline.exceptions); a re-run keeps it, a reopen clears all but the assignee
STEWARD_COLUMNS = ("status", "resolution", "resolution_note", "waiver_justification", "waiver_until", "assignee")
_CLEARED_ON_REOPEN = ["resolution", "resolution_note", "waiver_justification", "waiver_until"]


def _evidence_hash(evidence: pd.Series) -> pd.Series:
    return evidence.fillna("").map(lambda e: hashlib.sha1(e.encode()).hexdigest()[:16])


def waiver_expired(waiver_until: pd.Series, now: datetime) -> pd.Series:
    """Whether each waiver has run out at ``now``: it holds through its ``waiver_until`` day (UTC)."""
    return pd.to_datetime(waiver_until, errors="coerce").lt(pd.Timestamp(now.date()))  # no waiver: NaT, False


def publish_exceptions(warehouse: Warehouse, findings: pd.DataFrame, *, run_id: str,
                       rules_run: Iterable[str]) -> dict[str, int]:
    """Merge this run's findings into the exception table; returns counts of what changed.

    The exceptions are read, merged and written in one transaction that holds off other writers, so
    a steward's action made meanwhile is never overwritten: it waits, then finds the status moved
    and fails with "retry" (``threadline.exceptions.ConcurrentChangeError``).
    """
    with warehouse.engine.begin() as conn:
        lock_for_write(conn, schema.exception)
        existing = pd.read_sql(select(schema.exception), conn)
        counts = _merge_findings(conn, existing, findings, run_id=run_id, rules_run=set(rules_run))
    counts["open"] = warehouse.count(schema.exception, schema.exception.c.status == "open")
    return counts


def _merge_findings(conn, existing: pd.DataFrame, findings: pd.DataFrame, *, run_id: str,
                    rules_run: set[str]) -> dict[str, int]:
    """Write the lifecycle changes of this run's findings against the exceptions as they are."""
    now = utcnow()
    found = findings.copy()
    found["evidence_hash"] = _evidence_hash(found["evidence"]) if not found.empty else pd.Series(dtype=object)
    found = found.drop_duplicates("exception_id", keep="last")

    previous = existing.set_index("exception_id") if not existing.empty else None
    is_known = found["exception_id"].isin(existing["exception_id"]) if not existing.empty else \
        pd.Series(False, index=found.index)

    rows, events = [], []
    # new findings open
    new = found.loc[~is_known].assign(status="open", resolution=None, resolution_note=None, waiver_justification=None,
                                      waiver_until=None, assignee=None, first_seen_run=run_id,
                                      first_seen_at=now, status_changed_at=now)
    rows.append(new)
    events += [{"exception_id": i, "at": now, "actor": SYSTEM_ACTOR, "from_status": None, "to_status": "open",
                "reason": f"found by run {run_id}", "run_id": run_id} for i in new["exception_id"]]

    # findings seen before: keep the steward's status, unless the condition came back or the evidence moved
    seen = found.loc[is_known].copy()
    if not seen.empty:
        before = previous.loc[seen["exception_id"]]
        for column in (*STEWARD_COLUMNS, "first_seen_run", "first_seen_at", "status_changed_at"):
            seen[column] = before[column].to_numpy()
        old_hash = before["evidence_hash"].to_numpy()
        recurred = seen["status"].eq("resolved")
        evidence_moved = seen["status"].eq("waived") & (seen["evidence_hash"].to_numpy() != old_hash)
        expired = seen["status"].eq("waived") & waiver_expired(seen["waiver_until"], now) & ~evidence_moved
        reopen = recurred | evidence_moved | expired
        for exception_id, from_status, moved, until in zip(
                seen.loc[reopen, "exception_id"], seen.loc[reopen, "status"], evidence_moved[reopen],
                seen.loc[reopen, "waiver_until"]):
            reason = ("the evidence changed since the waiver" if moved else
                      f"waiver expired: it held until {until}" if from_status == "waived" else "the condition recurred")
            events.append({"exception_id": exception_id, "at": now, "actor": SYSTEM_ACTOR,
                           "from_status": from_status, "to_status": "open", "run_id": run_id, "reason": reason})
        seen.loc[reopen, ["status", "status_changed_at"]] = ["open", now]
        seen.loc[reopen, _CLEARED_ON_REOPEN] = None
        rows.append(seen)

    # open exceptions (and waivers that ran out) of rules that ran and found nothing this time are cleared by data
    cleared = pd.DataFrame()
    if not existing.empty:
        gone = (~existing["exception_id"].isin(found["exception_id"]) & existing["rule_id"].isin(rules_run)
                & (existing["status"].isin(["open", "acknowledged"])
                   | (existing["status"].eq("waived") & waiver_expired(existing["waiver_until"], now))))
        cleared = existing.loc[gone].copy()
        events += [{"exception_id": i, "at": now, "actor": SYSTEM_ACTOR, "from_status": s, "to_status": "resolved",
                    "reason": f"cleared by data: not found by run {run_id}", "run_id": run_id}
                   for i, s in zip(cleared["exception_id"], cleared["status"])]
        cleared = cleared.assign(status="resolved", resolution="cleared_by_data", resolution_note=None,
                                 waiver_justification=None, waiver_until=None, status_changed_at=now)
        rows.append(cleared)

    changed = pd.concat([r for r in rows if not r.empty], ignore_index=True) if any(not r.empty for r in rows) \
        else pd.DataFrame()
    if not changed.empty:
        seen_now = changed["exception_id"].isin(found["exception_id"])
        changed.loc[seen_now, "last_seen_run"] = run_id
        changed.loc[seen_now, "last_seen_at"] = now
    if not changed.empty:
        upsert(conn, schema.exception, changed[[c.name for c in schema.exception.columns]])
    if events:
        conn.execute(schema.exception_event.insert(), events)
    return {
        "found": int(len(found)),
        "new": int(len(new)),
        "reopened": int(sum(1 for e in events if e["to_status"] == "open" and e["from_status"])),
        "cleared_by_data": int(len(cleared)),
    }


def publish_rollup(warehouse: Warehouse, rollup: pd.DataFrame, cost_lines: pd.DataFrame, *, run_id: str,
                   as_of: date) -> None:
    """Replace the current roll-up and its drill-down lines with this run's, in one transaction."""
    rollup = rollup.assign(run_id=run_id, as_of=pd.Timestamp(as_of))
    lines = cost_lines.assign(run_id=run_id)
    with warehouse.engine.begin() as conn:
        conn.execute(schema.cost_line.delete())
        conn.execute(schema.cost_rollup.delete())
        insert_rows(conn, schema.cost_rollup, rollup[[c.name for c in schema.cost_rollup.columns]])
        insert_rows(conn, schema.cost_line, lines[[c.name for c in schema.cost_line.columns if c.name != "line_id"]])
